"""Language codes across the data sets weam reads, and the facts a pipeline needs about each.

The same language is ``de`` to a user, ``deu`` to NTREX-128 and Tatoeba, ``deu_Latn`` to SIB-200
(Flores-200). ``language(code)`` accepts any of them. ``resource`` follows Joshi et al. (2020,
"The State and Fate of Linguistic Diversity"): classes 4–5 are "high", 0–3 "low"; it is used
only to group rows in comparison tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from weamcli.common.errors import WeamError


@dataclass(frozen=True)
class Language:
    iso1: str | None  # ISO 639-1, e.g. "de" (None where the language has none)
    iso3: str  # ISO 639-3, e.g. "deu", "cmn"
    flores: str  # Flores-200 / SIB-200 code, e.g. "deu_Latn"
    tatoeba: str | None  # Tatoeba (XTREME) code, e.g. "deu", "cmn"
    ntrex: str | None  # NTREX-128 file code, e.g. "deu", "zho-CN"
    name: str
    no_space: bool  # written without spaces between words (needs segmentation for aligners)
    resource: str  # "high" or "low"

    @property
    def code(self) -> str:
        """The short code weam shows: ISO 639-1 where there is one."""
        return self.iso1 or self.iso3


# iso1 iso3 flores tatoeba ntrex no_space resource name
_TABLE = """
en eng eng_Latn eng eng-US 0 high English
de deu deu_Latn deu deu 0 high German
es spa spa_Latn spa spa 0 high Spanish
fr fra fra_Latn fra fra 0 high French
it ita ita_Latn ita ita 0 high Italian
pt por por_Latn por por 0 high Portuguese
nl nld nld_Latn nld nld 0 high Dutch
sv swe swe_Latn swe swe 0 high Swedish
da dan dan_Latn dan dan 0 low Danish
fi fin fin_Latn fin fin 0 high Finnish
pl pol pol_Latn pol pol 0 high Polish
cs ces ces_Latn ces ces 0 high Czech
hu hun hun_Latn hun hun 0 high Hungarian
ro ron ron_Latn ron ron 0 low Romanian
bg bul bul_Cyrl bul bul 0 low Bulgarian
el ell ell_Grek ell ell 0 low Greek
ru rus rus_Cyrl rus rus 0 high Russian
uk ukr ukr_Cyrl ukr ukr 0 low Ukrainian
tr tur tur_Latn tur tur 0 high Turkish
ar arb arb_Arab ara arb 0 high Arabic
he heb heb_Hebr heb heb 0 low Hebrew
fa pes pes_Arab pes fas 0 high Persian
hi hin hin_Deva hin hin 0 high Hindi
ur urd urd_Arab urd urd 0 low Urdu
bn ben ben_Beng ben ben 0 low Bengali
ta tam tam_Taml tam tam 0 low Tamil
te tel tel_Telu tel tel 0 low Telugu
mr mar mar_Deva mar mar 0 low Marathi
id ind ind_Latn ind ind 0 low Indonesian
ms zsm zsm_Latn zsm msa 0 low Malay
vi vie vie_Latn vie vie 0 high Vietnamese
th tha tha_Thai tha tha 1 low Thai
zh cmn zho_Hans cmn zho-CN 1 high Chinese
ja jpn jpn_Jpan jpn jpn 1 high Japanese
ko kor kor_Hang kor kor 0 high Korean
sw swh swh_Latn swh swa 0 low Swahili
yo yor yor_Latn - yor 0 low Yoruba
ha hau hau_Latn - hau 0 low Hausa
ig ibo ibo_Latn - ibo 0 low Igbo
zu zul zul_Latn - zul 0 low Zulu
xh xho xho_Latn xho xho 0 low Xhosa
am amh amh_Ethi amh amh 0 low Amharic
so som som_Latn - som 0 low Somali
qu quy quy_Latn - - 0 low Quechua (Ayacucho)
tl tgl tgl_Latn tgl fil 0 low Tagalog
af afr afr_Latn afr afr 0 low Afrikaans
et est est_Latn est est 0 low Estonian
lt lit lit_Latn lit lit 0 low Lithuanian
lv lvs lvs_Latn lvs lav 0 low Latvian
ka kat kat_Geor kat kat 0 low Georgian
hy hye hye_Armn hye hye 0 low Armenian
kk kaz kaz_Cyrl kaz kaz 0 low Kazakh
ne npi npi_Deva - nep 0 low Nepali
my mya mya_Mymr - mya 1 low Burmese
km khm khm_Khmr khm khm 1 low Khmer
"""


def _parse() -> list[Language]:
    langs = []
    for row in _TABLE.strip().splitlines():
        iso1, iso3, flores, tatoeba, ntrex, no_space, resource, name = row.split(" ", 7)
        langs.append(
            Language(
                iso1=iso1,
                iso3=iso3,
                flores=flores,
                tatoeba=None if tatoeba == "-" else tatoeba,
                ntrex=None if ntrex == "-" else ntrex,
                name=name,
                no_space=no_space == "1",
                resource=resource,
            )
        )
    return langs


LANGUAGES: tuple[Language, ...] = tuple(_parse())
_BY_CODE: dict[str, Language] = {}
for _lang in LANGUAGES:
    for _code in (_lang.iso1, _lang.iso3, _lang.flores, _lang.tatoeba, _lang.ntrex):
        if _code:
            _BY_CODE.setdefault(_code.lower(), _lang)
_BY_CODE.setdefault("zh_cn", _BY_CODE["zh"])
_BY_CODE.setdefault("pt_br", _BY_CODE["pt"])
_BY_CODE.setdefault("zho", _BY_CODE["zh"])


def language(code: str) -> Language:
    """Look up a language by any of its codes (``de``, ``deu``, ``deu_Latn``); one-line error if unknown."""
    found = _BY_CODE.get(code.strip().lower().replace("-", "_")) or _BY_CODE.get(code.strip().lower())
    if found is None:
        raise WeamError(
            f"unknown language code '{code}' (use ISO 639-1 like 'de', ISO 639-3 like 'deu', or "
            "a Flores-200 code like 'deu_Latn')"
        )
    return found
