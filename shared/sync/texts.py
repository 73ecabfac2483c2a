"""The Dutch texts of the run overview: messages and hints a payroll administrator reads (the
e-mail texts are in :mod:`shared.notify.texts`, the failure classification's in
:mod:`shared.failures`). One function or constant per message, so a wording is changed in one
place; nothing here decides anything.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from shared.journal.models import JournalRunStatus, shown_period


@dataclass(frozen=True)
class Text:
    text: str
    hint: str = ""


# -- one journal run --------------------------------------------------------------------------

TEST_YEAR = Text(
    "Testjaar: deze journaalrun wordt nooit geboekt.",
    "Testjaren in Loket zijn voor proefberekeningen.",
)
EXPORTED_ELSEWHERE = Text(
    "Deze journaalrun staat in Loket al op 'Journaal geëxporteerd' en is niet door Loonbrug "
    "geboekt; hij wordt niet nog eens geboekt.",
    "Controleer in AFAS of de journaalpost er staat. Ontbreekt hij, zet de run in Loket dan "
    "terug en start opnieuw.",
)
NO_LINES = Text(
    "De journaalrun heeft geen regels; er is niets geboekt.",
    "Controleer in Loket of het journaalprofiel looncomponenten koppelt.",
)
LOKET_NO_LINES = "Geen regels om te boeken; niets geboekt in AFAS."
AWAITING_HINT = "Een beheerder keurt de journaalpost goed of af onder Goedkeuren."
AWAITING_NOTE = "Voorbereid; wacht op goedkeuring door een beheerder."
CHANGED_SINCE_APPROVAL = Text(
    "De journaalpost is gewijzigd sinds hij is goedgekeurd (andere regels in Loket of een "
    "gewijzigde koppeling). Hij is niet geboekt en wacht opnieuw op goedkeuring.",
    "Beoordeel de bijgewerkte journaalpost opnieuw onder Goedkeuren.",
)


def partially_booked(detail: str) -> Text:
    return Text(
        f"AFAS SB heeft de journaalpost maar gedeeltelijk verwerkt: {detail}",
        "Controleer de journaalpost in AFAS SB en maak hem daar af of verwijder hem; Loonbrug "
        "boekt deze journaalrun niet opnieuw.",
    )


def booked_elsewhere(where: str | None, reference: str) -> Text:
    place = f"in AFAS-administratie {where}" if where else "in een andere AFAS-administratie"
    return Text(
        f"Deze journaalrun is al geboekt, of wordt geboekt, {place}"
        + (f" (boekstuk {reference})" if reference else "")
        + "; Loonbrug boekt hem niet ook hier.",
        "Is de client naar een andere administratie verplaatst of opnieuw aangemaakt terwijl een "
        "boeking liep? Controleer in AFAS waar de journaalpost staat. Hoort hij hier, verwijder "
        "hem daar en neem contact op met support om de boeking vrij te geven.",
    )


def being_booked_elsewhere() -> Text:
    """Only another administration's fresh note stood in the way: nothing is in AFAS for this
    journal run (here or there) as far as Loonbrug knows, but the other one may be booking it
    right now."""
    return Text(
        "Deze journaalrun werd tegelijk ook voor een andere AFAS-administratie verwerkt; om "
        "dubbel boeken te voorkomen heeft Loonbrug hem hier niet geboekt. Er is hier niets "
        "geboekt.",
        "Twee client configuraties boeken dezelfde Loket-journaalrun in verschillende "
        "administraties (client verplaatst of opnieuw aangemaakt?). Verwijder onder Client "
        "configuraties de configuratie die niet meer klopt, of probeer het over een kwartier "
        "opnieuw (een rerun, of opnieuw goedkeuren onder Goedkeuren): Loonbrug boekt hem dan "
        "hier, tenzij hij inmiddels in de andere administratie is geboekt.",
    )


def outstanding_unsettled(reference: str) -> Text:
    return Text(
        f"Een eerdere boeking van deze journaalrun (kenmerk {reference}) kreeg geen zeker "
        "antwoord van AFAS, en de journaalpost is sindsdien gewijzigd of kan niet meer worden "
        "verstuurd. Loonbrug verstuurt niets tot dat is opgelost: de eerdere boeking kan in AFAS "
        "staan.",
        "Controleer in AFAS of de journaalpost er staat. Herstel de oorzaak van de melding "
        "hierboven (bijvoorbeeld de afrondingsrekening of de transponering); de volgende "
        "nachtelijke run maakt de boeking dan af, zonder iets twee keer te boeken.",
    )


def rejected(who: str, reason: str) -> Text:
    return Text(
        f"Afgewezen door {who}: {reason}. Deze journaalrun wordt niet geboekt.",
        "Maak in Loket zo nodig een nieuwe journaalrun aan; die wordt opnieuw ter goedkeuring "
        "voorbereid.",
    )


def already_booked(entry_number: str, reference: str) -> str:
    return (
        f"Al geboekt in AFAS (journaalpost {entry_number}, boekstuk {reference}); niet opnieuw "
        "geboekt."
    )


def imported(period: str, sequence: int, label: str, entry_number: str, reference: str) -> str:
    return (
        f"Journaalpost van periode {shown_period(period)} (volgnr. {sequence}) geïmporteerd in {label}: "
        f"journaalpost {entry_number}, boekstuk {reference}."
    )


def awaiting(period: str, sequence: int, label: str) -> str:
    return (
        f"Journaalpost van periode {shown_period(period)} (volgnr. {sequence}) is voorbereid voor {label} en "
        "wacht op goedkeuring."
    )


def afas_refused(detail: str) -> str:
    return f"AFAS weigerde de journaalpost: {detail}"


def loket_booked(label: str, entry_number: str, reference: str) -> str:
    return f"Geboekt in AFAS {label}: journaalpost {entry_number}, boekstuk {reference}."


def loket_not_booked(why: str) -> str:
    return f"Niet geboekt in AFAS: {why}"


def about_run(period: str, sequence: int, text: str) -> str:
    """A message about one journal run starts by saying which one."""
    if text.startswith("Journaalpost van periode"):
        return text
    return f"Periode {shown_period(period)} (volgnr. {sequence}): {text}"


# -- one job ----------------------------------------------------------------------------------

CLIENT_MISSING_HINT = "Is de client verwijderd? Dan valt er niets te doen."


def client_missing(client_id: str) -> str:
    return f"Client configuratie {client_id} bestaat niet meer."


def job_exhausted(client_id: str, attempts: int, reason: str) -> Text:
    return Text(
        f"De synchronisatie van client {client_id} is na {attempts} pogingen gestopt: {reason}.",
        "Dit is meestal een tijdelijke storing bij Loket of AFAS. Start later een rerun voor "
        "deze client; wat al geboekt is, wordt niet nog eens geboekt.",
    )


def not_synchronised(client_id: str, what: str) -> str:
    return f"Client {client_id} is niet gesynchroniseerd: {what}"


# -- nothing to book (the manual's troubleshooting checklist) ---------------------------------


def no_journal_runs(client_id: str, administration: str) -> Text:
    return Text(
        f"Loket heeft geen enkele journaalrun voor client {client_id} ({administration}).",
        "Gebruikelijke oorzaken: de verloning van de periode is nog niet goedgekeurd; de "
        "loonadministratie gebruikt nog de oude Journaalmodule of Journaal Basis (938) in plaats "
        "van het journaalprofiel (Journaliseren, 940); of de Loket-gebruiker van de koppeling "
        "mist het recht 'Raadplegen journaaloutput'. Controleer in Loket dat bij Verloning, "
        "Journaal en Loonaangifte een groen vinkje staat.",
    )


def none_approved_in_window(client_id: str, start: date | None, end: date | None) -> Text:
    window = f"{start:%d-%m-%Y} t/m {end:%d-%m-%Y}" if start and end else "het gekozen venster"
    return Text(
        f"Voor client {client_id} is geen journaalrun met een verloning goedgekeurd tussen {window}.",
        "Kies een ander venster bij 'Datum goedgekeurd vanaf/tot'.",
    )


def all_processed(client_id: str) -> Text:
    return Text(f"Geen nieuwe journaalruns voor client {client_id}: alles is al verwerkt.")


def none_ready(client_id: str, waiting: Counter[JournalRunStatus]) -> Text:
    listed = ", ".join(f"{n}× '{status.dutch}'" for status, n in sorted(waiting.items()))
    return Text(
        f"Client {client_id} heeft journaalruns, maar geen enkele staat op 'Journaal gereed': "
        f"{listed}.",
        "Een journaalrun die nog 'klaar staat voor journaliseren' wordt vanzelf gereed; bij "
        "'Fout bij aanmaken' moet de run in Loket opnieuw worden aangemaakt.",
    )


# -- the manual's three checks in Loket, per client with nothing to book ----------------------

CHECK_PAYROLL = "Verloning"
CHECK_JOURNAL = "Journaal"
CHECK_TAX_RETURN = "Loonaangifte"

PAYROLL_TODO = (
    "Keur in Loket de verloning van de periode goed (Verloning, Goedkeuren); Loket maakt daarna "
    "het journaal aan en de volgende nachtelijke run boekt het."
)
JOURNAL_PROFILE_TODO = (
    "Controleer in Loket dat de loonadministratie het journaalprofiel gebruikt (Journaliseren, "
    "940), niet de oude Journaalmodule of Journaal Basis (938), en dat de Loket-gebruiker van "
    "de koppeling het recht 'Raadplegen journaaloutput' heeft."
)
TAX_RETURN_UNKNOWN = "Loonbrug kan de loonaangifte niet inzien via de koppeling met Loket."
TAX_RETURN_TODO = (
    "Controleer in Loket bij Loonaangifte dat de aangifte van de periode is goedgekeurd en "
    "verstuurd (groen vinkje)."
)


def payroll_approved(period: str, day: date | None) -> str:
    when = f" op {day:%d-%m-%Y}" if day else ""
    return f"De verloning van periode {shown_period(period)} is goedgekeurd{when}."


def payroll_not_approved(period: str | None) -> str:
    if period is None:
        return (
            "Loket heeft voor deze loonadministratie geen goedgekeurde verloning met een journaal."
        )
    return f"De verloning van periode {shown_period(period)} is (nog) niet goedgekeurd."


def journal_state(period: str, sequence: int, status: JournalRunStatus) -> str:
    return f"Het laatste journaal (periode {shown_period(period)}, volgnr. {sequence}) staat op '{status.dutch}'."


JOURNAL_MISSING = "Loket heeft voor deze loonadministratie geen journaal aangemaakt."
JOURNAL_NO_RESULTS = "Het laatste journaal voor deze periode heeft geen resultaten."
JOURNAL_NO_RESULTS_TODO = (
    "Controleer in het journaalprofiel in Loket dat de looncomponenten aan grootboekrekeningen "
    "zijn gekoppeld, en maak het journaal daarna opnieuw aan."
)
JOURNAL_QUEUED_TODO = "Wacht tot Loket het journaal heeft aangemaakt; dat gaat vanzelf."
JOURNAL_FAILED_TODO = "Maak het journaal in Loket opnieuw aan (Journaliseren)."
