import base64
import os

import pytest

from shared.secret import Secret
from shared.store.crypto import DecryptionError, SecretBox


def key() -> Secret:
    return Secret(base64.b64encode(os.urandom(32)).decode())


def test_round_trip_and_ciphertext_hides_the_value() -> None:
    box = SecretBox([key()])
    stored = box.encrypt(Secret("refresh-token-123"), context="Connections|office|loket|refresh")
    assert "refresh-token-123" not in stored
    assert stored.startswith(f"v1.{box.primary_key_id}.")
    assert (
        box.decrypt(stored, context="Connections|office|loket|refresh").reveal()
        == "refresh-token-123"
    )


def test_same_value_encrypts_differently_each_time() -> None:
    box = SecretBox([key()])
    assert box.encrypt(Secret("v"), context="c") != box.encrypt(Secret("v"), context="c")


def test_ciphertext_is_bound_to_its_row() -> None:
    box = SecretBox([key()])
    stored = box.encrypt(Secret("v"), context="office-a")
    with pytest.raises(DecryptionError):
        box.decrypt(stored, context="office-b")


def test_tampering_is_detected() -> None:
    box = SecretBox([key()])
    stored = box.encrypt(Secret("value"), context="c")
    raw = bytearray(base64.b64decode(stored.split(".", 2)[2]))
    raw[-1] ^= 1
    forged = ".".join([*stored.split(".", 2)[:2], base64.b64encode(bytes(raw)).decode()])
    with pytest.raises(DecryptionError):
        box.decrypt(forged, context="c")


def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    old, new = key(), key()
    stored_with_old = SecretBox([old]).encrypt(Secret("v"), context="c")
    rotated = SecretBox([new, old])
    assert rotated.decrypt(stored_with_old, context="c").reveal() == "v"
    assert rotated.key_id_of(rotated.encrypt(Secret("v"), context="c")) == rotated.primary_key_id
    with pytest.raises(DecryptionError, match="no key with id"):
        SecretBox([new]).decrypt(stored_with_old, context="c")


def test_secret_never_prints_its_value() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {secret:>20} " + str([secret]) + f"{secret}"
    assert secret.reveal() == "hunter2"
