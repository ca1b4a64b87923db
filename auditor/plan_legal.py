"""The plan's ``legal:`` section: one block per law, each holding what that law asks a team to record.

Part of the training plan schema (:mod:`auditor.plan` re-exports everything here). Every field is optional: an
unset basis or consent is a policy *finding* with an article citation, never a schema error. Fields record
the team's choice (which basis, which condition); the policies check that a choice was recorded and, where
the law makes one choice unavailable (no legitimate interests under the PIPL), that it is one the law offers.
Facts several laws share (rights handling, automated decisions, processors, transfers) live in
:mod:`auditor.plan_processing`, so a plan states them once.
"""

# Annotations are evaluated at class creation, not postponed: for string annotations pydantic compiles and
# evaluates each one again, a measurable share of the gate's start-up.

from typing import Literal

from pydantic import Field

from auditor.plan_base import Section

LawfulBasis = Literal["consent", "contract", "legal_obligation", "vital_interests", "public_task",
                      "legitimate_interests"]
UkLawfulBasis = Literal["consent", "contract", "legal_obligation", "vital_interests", "public_task",
                        "legitimate_interests", "recognised_legitimate_interests"]
Art9Condition = Literal["explicit_consent", "employment_social_security", "vital_interests", "not_for_profit",
                        "made_public", "legal_claims", "substantial_public_interest", "health_care",
                        "public_health", "research_art89"]
#: Art. 13(4) (the person already has the information) and the four Art. 14(5) exceptions for data not
#: obtained from the person: (a) already has it, (b) impossible or disproportionate effort, (c) laid down by
#: law, (d) professional secrecy.
NoticeExemption = Literal["art_13_4", "art_14_5_a", "art_14_5_b", "art_14_5_c", "art_14_5_d"]
PiplBasis = Literal["consent", "contract", "hr_management", "legal_duty", "emergency", "news",
                    "public_disclosed", "other_law"]
#: CAC Provisions on Promoting and Regulating Cross-Border Data Flows (2024): Art. 4 (collected and produced
#: abroad), Art. 5(1) (necessary for a contract with the individual), 5(2) (cross-border HR), 5(3) (emergency).
CacExemption = Literal["collected_abroad", "contract_with_individual", "cross_border_hr", "emergency"]
LgpdBasis = Literal["consent", "legal_obligation", "public_administration", "research", "contract",
                    "exercise_of_rights", "protection_of_life", "health_protection", "legitimate_interests",
                    "credit_protection"]
LgpdSensitiveBasis = Literal["specific_consent", "legal_obligation", "public_administration", "research",
                             "exercise_of_rights", "protection_of_life", "health_protection", "fraud_prevention"]
#: Korea PIPA Art. 15(1)(1)-(7) as amended in 2023: consent, a special provision of law or a legal obligation, a
#: public institution's duties, a contract with the person, urgent protection of life, body or property, the
#: controller's legitimate interests that clearly override the person's rights, urgent public safety.
PipaBasis = Literal["consent", "law", "public_institution", "contract", "vital_interests", "legitimate_interests",
                    "public_safety"]
#: Korea PIPA Art. 24(1) and Enforcement Decree Art. 19: the unique identifying information the Act names.
PipaUniqueIdentifier = Literal["resident_registration_number", "passport_number", "driver_licence_number",
                               "alien_registration_number"]
#: Japan APPI Art. 20(2)(i)-(viii): prior consent, or the cases that need none (laws and regulations; life, body
#: or property; public health or children's development; cooperation with a state organ; academic research;
#: made public by the person or others the PPC Rules name; the other cases of the Cabinet Order).
#: APPI Art. 20(2)(i)-(viii): prior consent, or one of the eight exceptions (academic_research is item (v), an
#: academic research institution acquiring for academic research; joint_academic_research item (vi), acquiring
#: from one for joint research).
AppiSpecialCareBasis = Literal["prior_consent", "laws_and_regulations", "protection_of_life", "public_health",
                               "state_cooperation", "academic_research", "joint_academic_research", "made_public",
                               "cabinet_order"]


class GdprLegal(Section):
    lawful_basis: LawfulBasis | None = None
    special_category_condition: Art9Condition | None = None
    criminal_offence_basis: str | None = None
    legitimate_interest_assessment: str | None = None
    opt_out: bool | None = Field(default=None, description="An unconditional opt-out from training is offered "
                                                           "(a mitigating measure, EDPB Opinion 28/2024)")
    compatibility_assessment: str | None = None
    notice_of_training: bool | None = Field(
        default=None, description="The Art. 13/14 information names this training, given before it starts "
                                  "(Art. 13(3)/14(4) for data collected for another purpose)")
    notice_exemption: NoticeExemption | None = Field(default=None, description="Art. 13(4) or 14(5)(a)-(d)")
    notice_public: bool | None = Field(
        default=None, description="Art. 14(5)(b): the information is made publicly available, among the "
                                  "appropriate measures")
    parental_consent: bool | None = Field(
        default=None, description="Art. 8: consent given or authorised by the holder of parental responsibility")
    digital_consent_age: int | None = Field(
        default=None, ge=13, le=16, description="Art. 8(1): the Member State's age of digital consent (16 "
                                                "unless set lower, not below 13)")


class UkGdprLegal(Section):
    """UK GDPR and the Data Protection Act 2018, as amended by the Data (Use and Access) Act 2025."""

    lawful_basis: UkLawfulBasis | None = Field(
        default=None, description="Art. 6(1); recognised_legitimate_interests is Art. 6(1)(ea) and Annex 1")
    legitimate_interest_assessment: str | None = None
    special_category_condition: Art9Condition | None = None
    schedule_1_condition: str | None = Field(
        default=None, description="The DPA 2018 Schedule 1 condition that Art. 9(2)(b), (g), (h), (i) or (j) "
                                  "needs (s. 10)")
    compatibility_assessment: str | None = Field(default=None, description="Art. 8A and Annex 2")
    notice_of_training: bool | None = None
    notice_exemption: NoticeExemption | None = None
    notice_public: bool | None = None
    parental_consent: bool | None = Field(default=None, description="Art. 8 with DPA 2018 s. 9: under 13")


class PiplLegal(Section):
    legal_basis: PiplBasis | None = None
    separate_consent_sensitive: bool | None = None
    separate_consent_export: bool | None = None
    guardian_consent: bool | None = None
    notice_of_necessity: bool | None = None
    recipient_disclosed: bool | None = None
    cii_operator: bool | None = None
    important_data: bool | None = None
    notice_of_training: bool | None = Field(
        default=None, description="Art. 17: individuals were told of this processing (processor, purpose, "
                                  "methods, categories, retention, how to exercise their rights)")
    consent_for_training: bool | None = Field(
        default=None, description="Art. 14(2): consent was obtained for training (afresh where the data was "
                                  "collected for another purpose)")
    export_exemption: CacExemption | None = Field(
        default=None, description="CAC 2024 Provisions Art. 4 or Art. 5(1)-(3) exemption relied on")
    standard_contract_filed: bool | None = Field(
        default=None, description="The CAC standard contract is filed with the provincial CAC (within 10 "
                                  "working days of taking effect)")
    public_generative_service: bool | None = Field(
        default=None, description="The model serves a generative AI service offered to the public in mainland "
                                  "China (Interim Measures for Generative AI Services)")


class CcpaLegal(Section):
    notice_at_collection: bool | None = None
    limit_use_of_spi_honoured: bool | None = None
    purpose_necessary_and_proportionate: bool | None = None
    deidentified: bool | None = None
    public_commitment_no_reidentification: bool | None = None
    contractual_flow_down: bool | None = None
    admt_training: bool | None = None
    meets_business_thresholds: bool | None = Field(
        default=None, description="§1798.140(d)(1): revenue above the adjusted threshold, personal information "
                                  "of 100,000 consumers or households bought, sold or shared, or half of revenue "
                                  "from selling or sharing it")
    exemption: Literal["hipaa_phi", "hipaa_deidentified"] | None = Field(
        default=None, description="§1798.146(a): PHI held under HIPAA, or patient information de-identified "
                                  "under 45 CFR 164.514")
    spi_used_to_infer: bool | None = Field(
        default=None, description="§1798.121(d): sensitive personal information is used to infer "
                                  "characteristics about consumers")
    sale_or_sharing: bool | None = Field(
        default=None, description="The data, or a model trained on it, is sold or shared with a third party "
                                  "that is not a service provider or contractor (§1798.140(ad), (ah))")
    opt_out_honoured: bool | None = Field(default=None, description="§1798.120, §1798.135 opt-outs are honoured")
    gpc_honoured: bool | None = Field(default=None, description="Opt-out preference signals (GPC), §7025")
    minors_opt_in: bool | None = Field(
        default=None, description="§1798.120(c): affirmative authorisation from consumers aged 13-15, and "
                                  "from a parent or guardian under 13")


class HipaaLegal(Section):
    applies: bool | None = Field(default=None, description="The data is PHI held by a covered entity or associate")
    deidentification: Literal["safe_harbor", "expert_determination", "none"] | None = None
    expert_determination_ref: str | None = None
    no_actual_knowledge: bool | None = None
    role: Literal["covered_entity", "business_associate", "none"] | None = Field(
        default=None, description="45 CFR 160.103: HIPAA binds covered entities and business associates; "
                                  "when set, it decides whether the policy applies")
    permitted_use: Literal["treatment_payment_operations", "authorization", "irb_waiver", "limited_data_set",
                           "business_associate_agreement"] | None = Field(
        default=None, description="Why PHI may be used as PHI: §164.506, §164.508, §164.512(i), §164.514(e), "
                                  "or as the business associate agreement permits (§164.502(a)(3))")
    data_use_agreement: bool | None = Field(default=None, description="§164.514(e)(4) for a limited data set")


class EuAiActLegal(Section):
    high_risk: bool | None = None
    general_purpose_model: bool | None = None
    bias_examination: str | None = None
    data_gaps: str | None = None
    preparation_steps: str | None = None
    assumptions: str | None = None
    technical_documentation: str | None = None
    copyright_policy: str | None = None
    training_content_summary: str | None = None
    special_category_for_bias: str | None = None
    role: Literal["provider", "deployer", "modifier"] | None = Field(
        default=None, description="Art. 3(3)-(4); modifier: fine-tunes someone else's model (Art. 25)")
    placed_on_eu_market: bool | None = Field(default=None, description="Art. 2(1)(a)")
    put_into_service_in_eu: bool | None = Field(default=None, description="Art. 2(1)(a)-(b), own use included")
    output_used_in_eu: bool | None = Field(default=None, description="Art. 2(1)(c)")


class UsStatesLegal(Section):
    """The comprehensive state privacy laws, Washington's My Health My Data Act and Illinois' BIPA."""

    meets_thresholds: bool | None = Field(
        default=None, description="The controller meets the applicability thresholds of the comprehensive laws "
                                  "of the states named in data_subjects.regions")
    sensitive_data_consent: bool | None = Field(
        default=None, description="Opt-in consent for sensitive data (parental consent for a known child)")
    wa_health_data_consent: bool | None = Field(
        default=None, description="RCW 19.373.030: consent to collect and, separately, to share consumer "
                                  "health data")
    bipa_written_release: bool | None = Field(default=None, description="740 ILCS 14/15(b)")
    bipa_retention_policy: bool | None = Field(default=None, description="740 ILCS 14/15(a), public")


class LgpdLegal(Section):
    legal_basis: LgpdBasis | None = Field(default=None, description="LGPD Art. 7(I)-(X)")
    legitimate_interest_assessment: str | None = None
    sensitive_data_basis: LgpdSensitiveBasis | None = Field(default=None, description="LGPD Art. 11(I)-(II)")
    children_best_interest: str | None = Field(
        default=None, description="Art. 14: the assessment of the best interest of children and adolescents")
    parental_consent: bool | None = Field(default=None, description="Art. 14 §1: specific, highlighted consent "
                                                                    "of a parent for children under 12")


class DpdpLegal(Section):
    basis: Literal["consent", "legitimate_use"] | None = Field(default=None, description="DPDP Act s. 4(1)")
    legitimate_use: str | None = Field(default=None, description="The s. 7 clause relied on")
    notice_of_training: bool | None = Field(default=None, description="s. 5 and Rule 3 notice names training")
    verifiable_parental_consent: bool | None = Field(default=None, description="s. 9(1), Rule 10")
    significant_data_fiduciary: bool | None = Field(default=None, description="Notified under s. 10(1)")
    exemption: Literal["made_public_by_principal", "research_statistics"] | None = Field(
        default=None, description="s. 3(c)(ii) or s. 17(2)(b): the Act does not apply to this processing")


class CanadaLegal(Section):
    """PIPEDA (federal) and Quebec's private-sector Act as amended by Law 25."""

    consent: Literal["express", "implied"] | None = Field(
        default=None, description="PIPEDA Sch. 1, 4.3 and s. 6.1: the consent that covers training")
    quebec_secondary_use: Literal["consent", "consistent_purpose", "deidentified_research"] | None = Field(
        default=None, description="Quebec s. 12: why information collected for another purpose may train")
    parental_consent: bool | None = Field(default=None, description="Quebec s. 4.1: under 14")
    quebec_transfer_agreement: bool | None = Field(default=None, description="Quebec s. 17: written agreement")


class KoreaPipaLegal(Section):
    """Korea's Personal Information Protection Act as amended in 2023 (in force 2023-09-15; the automated-decision
    rights of Art. 37-2 from 2024-03-15)."""

    legal_basis: PipaBasis | None = Field(default=None, description="PIPA Art. 15(1)(1)-(7)")
    legitimate_interest_assessment: str | None = Field(
        default=None, description="Art. 15(1)(6): why the controller's interest clearly overrides the person's "
                                  "rights, is substantially related and stays within a reasonable scope")
    further_use: Literal["reasonably_related", "separate_consent", "law", "pseudonymised_research"] | None = Field(
        default=None, description="Why data collected for another purpose may train: reasonably related to that "
                                  "purpose (Art. 15(3), 17(4)), separate consent (Art. 18(2)(1)), a special "
                                  "provision of law (Art. 18(2)(2)), or pseudonymised information for statistics, "
                                  "scientific research or public-interest archiving (Art. 28-2)")
    third_party_provision: Literal["consent", "collection_ground", "reasonably_related",
                                   "pseudonymised_research"] | None = Field(
        default=None, description="Why recipients (``recipients`` receiving data) may get the data: consent "
                                  "(Art. 17(1)(1)), within the purpose of collection on an Art. 15(1) ground "
                                  "that extends to provision (Art. 17(1)(2)), reasonably related to that purpose "
                                  "(Art. 17(4)), or pseudonymised information for statistics, scientific research "
                                  "or public-interest archiving (Art. 28-2(1)-(2))")
    reasonably_related_assessment: str | None = Field(
        default=None, description="Art. 15(3) with Enforcement Decree Art. 14-2: relation to the original purpose, "
                                  "foreseeability, no undue harm, pseudonymisation or encryption; the criteria "
                                  "disclosed in the privacy policy")
    sensitive_information_basis: Literal["separate_consent", "law"] | None = Field(
        default=None, description="Art. 23(1)(1)-(2)")
    unique_identifiers: list[PipaUniqueIdentifier] | None = Field(
        default=None, max_length=4,
        description="Unique identifying information in the data that trains (Art. 24(1), Decree Art. 19); [] when "
                    "none. The bundled scanner does not detect Korean identifiers, so this is declared")
    unique_identifier_basis: Literal["separate_consent", "law"] | None = Field(
        default=None, description="Art. 24(1)(1)-(2), for unique identifying information other than resident "
                                  "registration numbers")
    rrn_legal_basis: str | None = Field(
        default=None, description="Art. 24-2(1): the Act, Presidential Decree or rule that specifically requires "
                                  "or permits processing resident registration numbers; consent is no ground")
    guardian_consent: bool | None = Field(
        default=None, description="Art. 22-2(1): consent of the legal representative for children under 14, "
                                  "where consent is needed")
    pseudonymised_purpose: Literal["statistics", "scientific_research", "public_interest_archiving"] | None = Field(
        default=None, description="Art. 28-2(1): the purpose pseudonymised information is processed for "
                                  "without consent")
    additional_information_separated: bool | None = Field(
        default=None, description="Art. 28-4(1): the additional information that would restore identities is "
                                  "kept apart, under its own safety measures")
    pseudonymised_processing_records: bool | None = Field(
        default=None, description="Art. 28-4(3): records of the processing of pseudonymised information are kept")
    public_institution: bool | None = Field(
        default=None, description="Art. 2(6): the controller is a public institution (the Art. 33 impact "
                                  "assessment duty is theirs)")


class JapanAppiLegal(Section):
    """Japan's Act on the Protection of Personal Information as amended in 2020 and 2021 (in force 2022-04-01)."""

    further_use: Literal["consent", "purpose_change", "art_18_3_exception", "pseudonymously_processed",
                         "anonymously_processed"] | None = Field(
        default=None, description="Why data acquired for another purpose of use may train: the person's prior "
                                  "consent (Art. 18(1)), a change within what is reasonably relevant (Art. 17(2)), "
                                  "an Art. 18(3) exception, pseudonymously processed information (Art. 41(3), "
                                  "(9)), or anonymously processed information (Art. 43)")
    purpose_change_assessment: str | None = Field(
        default=None, description="Art. 17(2): why the new purpose is reasonably relevant to the former one")
    purpose_notified: bool | None = Field(
        default=None, description="Art. 21(1), (3): the purpose of use, training included, was notified to the "
                                  "person or published (on a change, the changed purpose)")
    special_care_basis: AppiSpecialCareBasis | None = Field(default=None, description="Art. 20(2)")
    third_party_provision: Literal["consent", "opt_out", "joint_use", "art_27_1_exception"] | None = Field(
        default=None, description="Art. 27(1) prior consent, the Art. 27(2) opt-out notified to the PPC (never "
                                  "for special care-required information), joint use (Art. 27(5)(iii)) or an "
                                  "Art. 27(1) exception")
    foreign_system_informed: bool | None = Field(
        default=None, description="Art. 28(2): before consenting, the person was told the country, its personal "
                                  "information protection system and the recipient's measures")
    equivalent_measures_monitored: bool | None = Field(
        default=None, description="Art. 28(3): the foreign recipient's equivalent measures are checked "
                                  "periodically, and information on them is given on request")
    foreign_provider_no_handling: bool | None = Field(
        default=None, description="The foreign storage and compute providers do not handle the personal data "
                                  "(their contract excludes it and access is controlled), so keeping it there is "
                                  "no provision to a third party (PPC Q&A on cloud services); Art. 23 still "
                                  "applies")
    anonymised_categories_published: bool | None = Field(
        default=None, description="Art. 43(3): the categories of information in the anonymously processed "
                                  "information are published")
    legal_representative_consent: bool | None = Field(
        default=None, description="PPC Guidelines: consent for children (generally aged 12 to 15 or under) is "
                                  "given by a legal representative")


class Legal(Section):
    gdpr: GdprLegal = Field(default_factory=GdprLegal)
    pipl: PiplLegal = Field(default_factory=PiplLegal)
    ccpa: CcpaLegal = Field(default_factory=CcpaLegal)
    hipaa: HipaaLegal = Field(default_factory=HipaaLegal)
    eu_ai_act: EuAiActLegal = Field(default_factory=EuAiActLegal)
    uk_gdpr: UkGdprLegal = Field(default_factory=UkGdprLegal)
    us_states: UsStatesLegal = Field(default_factory=UsStatesLegal)
    lgpd: LgpdLegal = Field(default_factory=LgpdLegal)
    dpdp: DpdpLegal = Field(default_factory=DpdpLegal)
    canada: CanadaLegal = Field(default_factory=CanadaLegal)
    korea_pipa: KoreaPipaLegal = Field(default_factory=KoreaPipaLegal)
    japan_appi: JapanAppiLegal = Field(default_factory=JapanAppiLegal)
