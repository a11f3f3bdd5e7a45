"""The monthly briefing's letterhead (schemas/briefing.yaml): who issues it, to whom, and who signs — the
parts of a Vietnamese administrative report (Nghị định 30/2020/NĐ-CP) that are not data."""

from __future__ import annotations

from pydantic import Field

from pipelines.declarations.base import Strict
from pipelines.declarations.models import OrgUnits


class Briefing(Strict):
    """The issuing unit and its parent (the heading's left side), the document's number symbol, the place
    written before the date, the addressee, the recipients (Nơi nhận) and the signer."""

    issuer_parent: str  # e.g. ỦY BAN NHÂN DÂN THÀNH PHỐ HẢI PHÒNG
    issuer: str = "TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH"
    symbol: str = Field(default="BC-TTGSĐH", pattern=r"^BC-\S+$")  # the number reads 12/BC-TTGSĐH
    place: str  # Hải Phòng, ngày … tháng … năm …
    addressee: str = "Ủy ban nhân dân"
    recipients: list[str] = ["Như trên", "Lưu: VT"]
    signer_title: str = "GIÁM ĐỐC"
    signer_name: str | None = None

    @classmethod
    def default(cls, units: OrgUnits) -> Briefing:
        """Without a schemas/briefing.yaml: the watched unit's centre, addressed to its People's Committee."""
        watched = units.get(units.province)
        assert watched is not None  # the organisation units' checks: the watched unit is one of them
        name = watched.vi
        place = name.removeprefix("Thành phố ").removeprefix("Tỉnh ")
        return cls(
            issuer_parent=f"ỦY BAN NHÂN DÂN {name.upper()}",
            place=place,
            addressee=f"Ủy ban nhân dân {name.lower()[:1]}{name[1:]}",
        )
