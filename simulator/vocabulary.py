"""Vietnamese names, labels and texts the simulated departments use in their records and files."""

from __future__ import annotations

from dataclasses import dataclass

CHANNEL_LABELS = {"online": "Trực tuyến", "direct": "Trực tiếp", "postal": "Bưu chính"}

DOSSIER_STATUS_LABELS = {
    "received": "Mới tiếp nhận",
    "processing": "Đang xử lý",
    "supplement_requested": "Yêu cầu bổ sung",
    "completed": "Đã trả kết quả",
    "returned": "Trả lại",
    "cancelled": "Đã hủy",
}

TICKET_CATEGORY_LABELS = {
    "infrastructure": "Hạ tầng giao thông",
    "environment": "Môi trường",
    "urban_order": "Trật tự đô thị",
    "health": "Y tế",
    "education": "Giáo dục",
    "administrative": "Thủ tục hành chính",
    "other": "Khác",
}

TASK_STATUS_LABELS = {
    "not_started": "Chưa thực hiện",
    "in_progress": "Đang thực hiện",
    "done": "Hoàn thành",
    "cancelled": "Đã hủy",
}

AIR_STATIONS = {
    "HP-AQ-01": "Trạm quan trắc Phường Hải Dương",
    "HP-AQ-02": "Trạm quan trắc Phường Lê Thanh Nghị",
    "HP-AQ-03": "Trạm quan trắc Khu công nghiệp Đại An",
    "HP-AQ-04": "Trạm quan trắc Xã Gia Lộc",
    "HP-AQ-05": "Trạm quan trắc Phường Việt Hòa",
    "HP-AQ-06": "Trạm quan trắc Xã Thanh Hà",
}


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    unit: str
    typical: tuple[float, float]
    decimals: int = 0


INDICATORS = (
    Indicator("GP_CAP", "Số giấy phép được cấp", "giấy phép", (5, 60)),
    Indicator("TIN_BAI", "Số tin, bài đăng tải", "tin", (15, 90)),
    Indicator("BAI_BAO", "Số bài báo tổng hợp", "bài", (150, 450)),
    Indicator("THANH_TRA", "Số cuộc thanh tra, kiểm tra", "cuộc", (0, 8)),
    Indicator("VB_DEN", "Văn bản đến", "văn bản", (400, 3200)),
    Indicator("VB_DI", "Văn bản đi", "văn bản", (250, 2200)),
    Indicator("HS_TIEP_NHAN", "Hồ sơ tiếp nhận", "hồ sơ", (40, 2600)),
    Indicator("KINH_PHI", "Kinh phí đã giải ngân", "triệu đồng", (300, 25000), decimals=1),
)

# Indicators every department reports; the others only where the department does that work.
COMMON_INDICATORS = ("THANH_TRA", "VB_DEN", "VB_DI", "HS_TIEP_NHAN", "KINH_PHI")
EXTRA_INDICATORS = {
    "SKHCN": ("GP_CAP", "TIN_BAI", "BAI_BAO"),
    "SVHTTDL": ("GP_CAP", "TIN_BAI", "BAI_BAO"),
    "VPUBND": ("TIN_BAI",),
    "SXD": ("GP_CAP",),
    "SCT": ("GP_CAP",),
    "SYT": ("GP_CAP",),
    "SGDDT": ("GP_CAP",),
    "SNNMT": ("GP_CAP",),
}

REPORT_NOTES = ("Số liệu ước tính", "Tăng so với tháng trước", "Giảm do nghỉ lễ", "Lũy kế từ đầu năm")

PROVINCE_TITLE = "ỦY BAN NHÂN DÂN THÀNH PHỐ HẢI PHÒNG"

LEADERS = (
    "Phó Chủ tịch UBND thành phố Lương Văn Cầu",
    "Phó Chủ tịch Thường trực UBND thành phố Lưu Văn Bản",
    "Chủ tịch UBND thành phố Phạm Quang Hưng",
    "Phó Chủ tịch UBND thành phố Nguyễn Thị Hồng Nhung",
    "Chánh Văn phòng UBND thành phố Đỗ Mạnh Tuấn",
)

DOCUMENT_KINDS = ("Thông báo {number}/TB-VP", "Kết luận {number}/KL-UBND", "Thông báo {number}/TB-UBND")

# Directive task texts (seeds 000, 002, 004) with the departments that usually lead them.
TASK_TEXTS = (
    ("Hoàn thành xây dựng Trung tâm Giám sát, điều hành thông minh", ("SKHCN",)),
    ("Số hóa hồ sơ, kết quả giải quyết TTHC theo Đề án 06", ("VPUBND", "CA", "SNV")),
    ("Đưa Trung tâm Giám sát an ninh mạng (SOC) vào vận hành", ("SKHCN", "CA")),
    ("Rà soát, bố trí vốn đầu tư cho dự án Trung tâm điều hành thông minh", ("STC",)),
    ("Đẩy nhanh tiến độ giải ngân dự án Đường trục Đông – Tây", ("BQLDA", "SXD")),
    ("Hoàn thiện Kiến trúc Chính quyền số thành phố phiên bản 3.0", ("SKHCN",)),
    ("Xây dựng cơ sở dữ liệu đất đai dùng chung", ("SNNMT",)),
    ("Triển khai bệnh án điện tử tại các bệnh viện công lập", ("SYT",)),
    ("Triển khai học bạ số cho các trường phổ thông", ("SGDDT",)),
    ("Kiện toàn Ban Chỉ đạo Chuyển đổi số thành phố", ("SNV", "VPUBND")),
    ("Ban hành Quy chế hoạt động của Ban Chỉ đạo Chuyển đổi số", ("VPUBND",)),
    ("Tổ chức hội thảo nâng cao nhận thức về chuyển đổi số cho cán bộ, công chức", ("SKHCN", "SNV")),
    ("Khảo sát, lắp đặt Wi-Fi công cộng miễn phí tại các điểm du lịch", ("SVHTTDL",)),
    ("Triển khai thanh toán không dùng tiền mặt trong dịch vụ công", ("STC", "VPUBND")),
    ("Lắp đặt hệ thống điện dùng riêng cho Trung tâm điều hành thông minh", ("SXD",)),
    ("Chuyển bộ phận tổng đài 1022 về Trung tâm Giám sát, điều hành thông minh", ("SKHCN", "VPUBND")),
    ("Rà soát, cắt giảm thủ tục hành chính nội bộ", ("VPUBND", "SNV")),
    ("Lắp đặt camera giám sát giao thông, trật tự đô thị tại các nút giao trọng điểm", ("CA", "SXD")),
    ("Hoàn thành chuyển đổi IPv6 cho các hệ thống thông tin của thành phố", ("SKHCN",)),
    ("Xây dựng kho dữ liệu dùng chung của thành phố", ("SKHCN",)),
    ("Cấp phiếu lý lịch tư pháp trực tuyến trên ứng dụng VNeID", ("CA",)),
    ("Kiểm tra công tác chuyển đổi số tại 8 lĩnh vực ưu tiên", ("SKHCN",)),
    ("Công khai chỉ số chất lượng không khí (AQI) theo giờ trên cổng thông tin", ("SNNMT",)),
    ("Xây dựng kế hoạch phát triển thương mại điện tử giai đoạn 2026–2030", ("SCT",)),
    ("Tổ chức Ngày Chuyển đổi số thành phố 10/10", ("SKHCN", "SVHTTDL")),
    ("Báo cáo tình hình giải ngân vốn đầu tư công 9 tháng", ("STC",)),
    ("Số hóa hồ sơ cán bộ, công chức, viên chức", ("SNV",)),
    ("Đảm bảo an ninh, an toàn thông tin cho các sự kiện lớn của thành phố", ("CA", "SKHCN")),
    ("Triển khai sổ sức khỏe điện tử cho người dân", ("SYT",)),
    ("Cấp mã số vùng trồng, cơ sở đóng gói nông sản xuất khẩu", ("SNNMT",)),
    ("Rà soát quy hoạch cụm công nghiệp sau sắp xếp đơn vị hành chính", ("SCT", "SXD")),
    ("Nâng cấp Cổng dịch vụ công thành phố đáp ứng Quyết định 766/QĐ-TTg", ("VPUBND",)),
)

# Public-investment projects (seed 001) with their owners and annual plans in VND.
PROJECTS = (
    ("Đường trục Đông – Tây dài 36,5 km", "BQLDA", 450_000_000_000),
    ("Cầu vượt nút giao Quốc lộ 5 với đường trục Đông – Tây", "BQLDA", 180_000_000_000),
    ("Đường vành đai phía Nam thành phố", "SXD", 320_000_000_000),
    ("Trung tâm Giám sát, điều hành thông minh thành phố", "SKHCN", 85_000_000_000),
    ("Cải tạo, nâng cấp Bệnh viện Đa khoa thành phố", "SYT", 220_000_000_000),
    ("Trường THPT chuyên Nguyễn Trãi (cơ sở 2)", "SGDDT", 150_000_000_000),
    ("Kè chống sạt lở bờ sông Thái Bình", "SNNMT", 120_000_000_000),
    ("Hệ thống xử lý nước thải khu đô thị phía Tây", "SNNMT", 260_000_000_000),
    ("Nâng cấp đê hữu sông Kinh Thầy", "SNNMT", 95_000_000_000),
    ("Nhà văn hóa trung tâm thành phố", "SVHTTDL", 60_000_000_000),
    ("Trụ sở Công an Phường Hải Dương", "CA", 40_000_000_000),
    ("Hạ tầng kỹ thuật Cụm công nghiệp Gia Lộc", "SCT", 130_000_000_000),
)
