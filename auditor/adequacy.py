"""Which destinations a law treats as adequate, as data with its source and the date it was checked.

A transfer tool is a label in a plan; whether "adequacy" covers a transfer depends on where the data goes. The
policies read these lists through ``facts.exports`` (:mod:`auditor.facts_legal`), never a copy of their own, so
one update here reaches every rule. Region codes are ISO 3166-1 alpha-2 (``UK`` and ``GB`` both name the United
Kingdom); ``EPO`` is the European Patent Organisation. Review the lists when a decision is adopted, amended or
struck down: ``AS_OF`` is shown in the rules' sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

#: EU member states plus the EEA's Iceland, Liechtenstein and Norway (ISO 3166-1 alpha-2), and the EU/EEA names:
#: the GDPR's own territory, and a destination several other laws' lists name as a whole.
EEA_CODES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "EL", "HU", "IE", "IT", "LV", "LT",
    "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "EU", "EEA",
})


@dataclass(frozen=True)
class AdequacyList:
    """Destinations a law deems adequate; ``certified_only`` are adequate only for a certified importer."""

    law: str
    source: str
    as_of: str
    destinations: dict[str, str]
    certified_only: frozenset[str] = frozenset()

    def covers(self, destination: str, certified: bool) -> bool:
        country = destination.split("-")[0]
        if country in self.certified_only:
            return certified
        return country in self.destinations or destination in self.destinations


#: GDPR Art. 45(3) implementing decisions in force (the European Commission's list).
EU_ADEQUACY = AdequacyList(
    law="GDPR Art. 45",
    source="https://commission.europa.eu/law/law-topic/data-protection/international-dimension-data-protection/"
           "adequacy-decisions_en",
    as_of="2026-12-01",
    destinations={
        "AD": "Decision 2010/625/EU (Andorra)",
        "AR": "Decision 2003/490/EC (Argentina)",
        "CA": "Decision 2002/2/EC (Canada: commercial organisations subject to PIPEDA)",
        "CH": "Decision 2000/518/EC (Switzerland)",
        "FO": "Decision 2010/146/EU (Faroe Islands)",
        "GG": "Decision 2003/821/EC (Guernsey)",
        "IL": "Decision 2011/61/EU (Israel)",
        "IM": "Decision 2004/411/EC (Isle of Man)",
        "JE": "Decision 2008/393/EC (Jersey)",
        "JP": "Implementing Decision (EU) 2019/419 (Japan: private sector)",
        "KR": "Implementing Decision (EU) 2022/254 (Republic of Korea)",
        "NZ": "Decision 2013/65/EU (New Zealand)",
        "UK": "Implementing Decision (EU) 2021/1772 and its renewal (United Kingdom)",
        "GB": "Implementing Decision (EU) 2021/1772 and its renewal (United Kingdom)",
        "UY": "Decision 2012/484/EU (Uruguay)",
        "EPO": "Adequacy decision for the European Patent Organisation",
        "US": "Implementing Decision (EU) 2023/1795 (EU-US Data Privacy Framework: certified organisations only)",
    },
    certified_only=frozenset({"US"}),
)

#: UK GDPR Art. 45 and DPA 2018 s. 17A adequacy regulations (the "data protection test" of Art. 45A-45B as
#: inserted by the Data (Use and Access) Act 2025); the EEA and Gibraltar are covered by Schedule 21.
UK_ADEQUACY = AdequacyList(
    law="UK GDPR Art. 45; DPA 2018 s. 17A, Sch. 21",
    source="https://ico.org.uk/for-organisations/uk-gdpr-guidance-and-resources/international-transfers/",
    as_of="2026-12-01",
    destinations={
        **{code: "DPA 2018 Sch. 21 para. 5 (EEA state)" for code in sorted(EEA_CODES)},
        "GI": "DPA 2018 Sch. 21 para. 5 (Gibraltar)",
        "AD": "Sch. 21 para. 5 (Andorra)", "AR": "Sch. 21 para. 5 (Argentina)",
        "CA": "Sch. 21 para. 5 (Canada: PIPEDA)", "CH": "Sch. 21 para. 5 (Switzerland)",
        "FO": "Sch. 21 para. 5 (Faroe Islands)", "GG": "Sch. 21 para. 5 (Guernsey)",
        "IL": "Sch. 21 para. 5 (Israel)", "IM": "Sch. 21 para. 5 (Isle of Man)", "JE": "Sch. 21 para. 5 (Jersey)",
        "JP": "Sch. 21 para. 5 (Japan: private sector)", "NZ": "Sch. 21 para. 5 (New Zealand)",
        "UY": "Sch. 21 para. 5 (Uruguay)",
        "KR": "The Data Protection (Adequacy) (Republic of Korea) Regulations 2022",
        "US": "The Data Protection (Adequacy) (United States of America) Regulations 2023 (UK Extension to the "
              "Data Privacy Framework: certified organisations only)",
    },
    certified_only=frozenset({"US"}),
)

#: LGPD Art. 33(I) and 34: countries the ANPD has recognised as adequate. None is listed here: a plan relying on
#: an ANPD decision adopted after AS_OF should record it in a waiver until this list is updated.
BR_ADEQUACY = AdequacyList(
    law="LGPD Art. 33(I), Art. 34",
    source="https://www.gov.br/anpd/pt-br",
    as_of="2026-12-01",
    destinations={},
)

#: PIPA Art. 28-8(1)(5) (as amended in 2023): countries or international organisations the PIPC has recognised
#: as ensuring a level of protection substantially equivalent to the Act. None is listed here: no recognition is
#: asserted that was not checked. A plan relying on one should record it in a waiver until this list is updated.
KR_ADEQUACY = AdequacyList(
    law="PIPA Art. 28-8(1)(5)",
    source="https://www.pipc.go.kr/eng/",
    as_of="2026-12-01",
    destinations={},
)

#: APPI Art. 28(1): foreign countries the PPC's rules designate as having a system equivalent to Japan's
#: (PPC Notice No. 1 of 2019, as amended: the EU and EEA member states, and the United Kingdom after it left
#: the EU). A transfer there needs no consent under Art. 28; Art. 27 still governs a provision to a third party.
JP_ADEQUACY = AdequacyList(
    law="APPI Art. 28(1); PPC Notice No. 1 of 2019",
    source="https://www.ppc.go.jp/en/",
    as_of="2026-12-01",
    destinations={
        **{code: "PPC Notice No. 1 of 2019 (EU or EEA member state)" for code in sorted(EEA_CODES)},
        "UK": "PPC Notice No. 1 of 2019, as amended (United Kingdom)",
        "GB": "PPC Notice No. 1 of 2019, as amended (United Kingdom)",
    },
)

#: The lists by the area whose people's data is exported (keys of ``facts.exports``).
BY_AREA: dict[str, AdequacyList] = {"eea": EU_ADEQUACY, "uk": UK_ADEQUACY, "brazil": BR_ADEQUACY,
                                    "korea": KR_ADEQUACY, "japan": JP_ADEQUACY}
