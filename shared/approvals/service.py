"""Review mode as a service: the office's pending items, approve (books exactly once through
:func:`shared.sync.review.approve`), reject.

Refusals are :class:`shared.sync.review.ReviewProblem` (a domain error with a ``kind``); the
HTTP handler says them as problems. The service gets its own bundle: the approval items and
what booking an approved entry needs (``review``), never the composition root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.store.approvals import ApprovalItem
from shared.sync import review
from shared.sync.deps import ReviewDeps
from shared.sync.review import Decision, ReviewProblem

NOT_FOUND = "Dit goedkeuringsitem bestaat niet (of hoort niet bij uw kantoor)."


class ApprovalReader(Protocol):
    """Reading approval items (``shared.store.approvals.ApprovalRepository``; a dict in tests)."""

    def get(self, office_id: str, approval: str) -> ApprovalItem | None: ...

    def pending(self, office_id: str) -> list[ApprovalItem]: ...


@dataclass
class ApprovalService:
    approvals: ApprovalReader
    # What approve/reject need to book, record and tell Loket (bootstrap.review_deps): never
    # the worker's bundle (no queue) nor the composition root.
    review: ReviewDeps

    def pending(self, office_id: str) -> list[ApprovalItem]:
        return self.approvals.pending(office_id)

    def get(self, office_id: str, approval: str) -> ApprovalItem:
        """:raises ReviewProblem: ``not-found`` (also for another office's item)."""
        item = self.approvals.get(office_id, approval)
        if item is None:
            raise ReviewProblem("not-found", NOT_FOUND)
        return item

    def approve(
        self, office_id: str, approval: str, *, user: str, if_match: str | None = None
    ) -> Decision:
        """Book the prepared entry exactly once, if it is still what was prepared.

        :raises ReviewProblem: not-found, precondition (``if_match``), conflict, changed,
            consent or unavailable; nothing booked twice.
        """
        self.get(office_id, approval)
        return review.approve(self.review, office_id, approval, user=user, if_match=if_match)

    def reject(
        self,
        office_id: str,
        approval: str,
        *,
        user: str,
        reason: str,
        mark_failed: bool,
        if_match: str | None = None,
    ) -> Decision:
        """Reject a pending item (recorded on the run; Loket marked failed when asked).

        :raises ReviewProblem: not-found, precondition, conflict (decided, or a post is out).
        """
        self.get(office_id, approval)
        return review.reject(
            self.review,
            office_id,
            approval,
            user=user,
            reason=reason,
            mark_failed=mark_failed,
            if_match=if_match,
        )
