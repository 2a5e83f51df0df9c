"""Small, realistic article pages for tests (our own markup and text)."""

import html
from typing import Optional

PARAGRAPHS_VI = [
    "Sáng nay, giá vàng miếng trong nước được các doanh nghiệp điều chỉnh tăng mạnh theo đà đi lên của thị trường thế giới.",
    "Theo ghi nhận của phóng viên, lượng khách đến mua vàng tại các cửa hàng ở trung tâm thành phố tăng đáng kể so với tuần trước.",
    "Các chuyên gia cho rằng nhà đầu tư nên thận trọng vì thị trường có thể biến động khó lường trong những ngày tới.",
    "Ngân hàng Nhà nước cho biết sẽ tiếp tục theo dõi sát diễn biến và có biện pháp bình ổn khi cần thiết.",
]
PARAGRAPHS_EN = [
    "The city council approved a new plan on Monday to expand the bus network into the northern districts by next summer.",
    "Officials said the project would add twelve routes and more than two hundred stops, serving about forty thousand residents.",
    "Residents who spoke at the meeting welcomed the plan but asked for more frequent service during the evening hours.",
    "The council will publish a detailed timetable in the spring after a final round of public consultations.",
]


def article_html(
    title: str,
    paragraphs: list,
    *,
    lang: Optional[str] = "vi",
    canonical: Optional[str] = None,
    published: Optional[str] = None,
    sitename: str = "Báo Thử Nghiệm",
    charset: str = "utf-8",
) -> str:
    head = [f'<meta charset="{charset}">', f"<title>{html.escape(title)} - {html.escape(sitename)}</title>"]
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs)
    lang_attr = f' lang="{lang}"' if lang else ""
    return (
        f"<!DOCTYPE html><html{lang_attr}><head>{''.join(head)}</head><body>"
        '<nav><a href="/">Trang chủ</a> <a href="/kinh-te">Kinh tế</a> <a href="/the-thao">Thể thao</a></nav>'
        f"<article><h1>{html.escape(title)}</h1>{body}</article>"
        '<footer><p>© 2026 Công ty Truyền thông Thử Nghiệm. Giấy phép số 123/GP-BTTTT.</p></footer>'
        "</body></html>"
    )

_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Encode Vietnamese as windows-1258 does: vowel letters precomposed, tone marks combining."""
    import unicodedata

    out = []
    for char in text:
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
        out.append(base + "".join(c for c in decomposed if c in _TONE_MARKS))
    return "".join(out).encode("cp1258")
