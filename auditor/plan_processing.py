"""The plan's sections about the processing around the training, which several laws read alike.

Part of the training plan schema (:mod:`auditor.plan` re-exports everything here): transfers per flow, the
people exported from mainland China this year, processors and recipients, how requests from data subjects
reach the data and the model, and whether the model decides about people. Stated once, they answer GDPR
Art. 22 and 28, PIPL Arts. 21, 23, 24 and 47, CCPA §1798.105 and the others alike.

A list that is absent (``processors:`` not written) means *not declared*, and the rules ask for it; an empty
list means *none*. Booleans left unset are not read as ``false``.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from typing import Annotated, Literal

from pydantic import Field, field_validator

from auditor.plan_base import Section, region_code

#: ``separate_consent``, ``law_or_treaty``, ``contract_necessity`` and ``pipc_certification`` are the grounds of
#: Korea's PIPA Art. 28-8(1)(1)-(4); ``informed_consent`` (consent after the Art. 28(2) information about the
#: foreign system) and ``equivalent_measures`` (a recipient with a system meeting the PPC's standards) are
#: Japan's APPI Art. 28(1). Adequacy is judged against the destination (:mod:`auditor.adequacy`).
TransferMechanism = Literal["none", "adequacy", "scc", "bcr", "derogation", "cac_security_assessment",
                            "cac_standard_contract", "cac_certification", "idta", "uk_addendum", "anpd_scc",
                            "specific_consent", "written_agreement", "separate_consent", "law_or_treaty",
                            "contract_necessity", "pipc_certification", "informed_consent",
                            "equivalent_measures"]
Mechanisms = TransferMechanism | Annotated[list[TransferMechanism], Field(max_length=16)] | None

#: An age band as written in a plan: ``13-15`` (both ends included) or ``18+``.
AGE_BAND = r"^\d{1,3}(-\d{1,3}|\+)$"


class TransferFlow(Section):
    """One transfer: whose data (``origin``), where it goes, how, and on which tool.

    ``kind: remote_access`` is access from another country to data that stays put; the EDPB counts it as a
    transfer (Guidelines 05/2021). Storage and compute are systematic, so an Art. 49 derogation never covers
    them; ``occasional`` matters only for the other kinds.
    """

    origin: str = Field(min_length=1, description="The region whose people's data leaves (EU, UK, CN, BR, ...)")
    destination: str = Field(min_length=1, description="Where it goes or is accessed from (US, CN, IN, ...)")
    kind: Literal["storage", "compute", "remote_access", "disclosure"] = "storage"
    mechanism: Mechanisms = Field(default=None, description="The transfer tool(s) this flow relies on")
    occasional: bool = Field(default=False, description="Occasional and not repetitive (EDPB Guidelines 2/2018)")
    importer: str | None = None
    importer_dpf_certified: bool | None = Field(
        default=None, description="The US importer is certified under the EU-US Data Privacy Framework (and the "
                                  "UK Extension for UK data)")

    @field_validator("origin", "destination")
    @classmethod
    def _upper(cls, region: str) -> str:
        return region_code(region)


class CnExported(Section):
    """People in mainland China whose personal information leaves it, counted since 1 January of ``year``
    (CAC 2024 Provisions Arts. 5(4), 7, 8): this export and every earlier one of the year."""

    year: int = Field(ge=2024, le=2100)
    non_sensitive: int = Field(ge=0, description="People whose personal information other than sensitive "
                                                 "personal information is exported")
    sensitive: int = Field(ge=0, description="People whose sensitive personal information is exported")


class Processor(Section):
    """A processor, service provider or contractor acting for the controller (a GPU cloud, a labelling firm)."""

    name: str = Field(min_length=1)
    service: str | None = None
    region: str | None = None
    contract: str | None = Field(
        default=None, description="The agreement that binds it: GDPR Art. 28(3) terms, a PIPL Art. 21 "
                                  "entrustment contract, CCPA service-provider terms, a HIPAA business "
                                  "associate agreement (one contract may carry them all)")


class Recipient(Section):
    """Someone who receives the data, a model trained on it, or its outputs, for their own purposes."""

    name: str = Field(min_length=1)
    receives: Literal["data", "model", "outputs"] = "data"
    region: str | None = None
    sale_or_sharing: bool | None = Field(default=None, description="A sale or sharing under the CCPA")
    separate_consent: bool | None = Field(default=None, description="PIPL Art. 23 separate consent")
    disclosed_to_individuals: bool | None = Field(
        default=None, description="Individuals were told the recipient's name, contact, purpose, methods and "
                                  "categories of data (PIPL Art. 23)")


class Rights(Section):
    """How requests from data subjects (erasure, objection, opt-out, withdrawal of consent) reach training."""

    requests_reach_dataset: bool | None = Field(
        default=None, description="A request removes the person's records from the training data before the "
                                  "next run")
    requests_reach_checkpoints: bool | None = None
    model_handling: Literal["retrain", "unlearning", "anonymous"] | None = Field(
        default=None, description="How a request reaches a trained model: scheduled retraining without the "
                                  "person, machine unlearning, or none needed because the model is anonymous "
                                  "(then anonymity_evidence)")
    anonymity_evidence: str | None = Field(
        default=None, description="A privacy audit of the model (membership inference, extraction): EDPB "
                                  "Opinion 28/2024")
    processors_notified: bool | None = Field(
        default=None, description="Requests are passed on to processors and service providers")


class AutomatedDecisions(Section):
    """Whether the model's output decides about people (GDPR Art. 22, PIPL Art. 24, LGPD Art. 20, PIPA
    Art. 37-2, ...)."""

    used: bool | None = Field(default=None, description="The model's output is used to decide about people")
    solely_automated: bool | None = Field(default=None, description="No meaningful human involvement")
    significant_effect: bool | None = Field(
        default=None, description="Legal or similarly significant effects (PIPL: a major impact on rights)")
    exception: Literal["contract", "law", "explicit_consent"] | None = Field(default=None,
                                                                           description="GDPR Art. 22(2)")
    safeguards: bool | None = Field(
        default=None, description="Human intervention, the person's view, contest, explanation and refusal")
    criteria_published: bool | None = Field(
        default=None, description="The criteria and procedure of decisions by the model are published so people "
                                  "can check them (Korea PIPA Art. 37-2(4))")
