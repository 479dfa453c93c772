"""GB 3304 nation (民族) codes as they appear in the resident ID card's text block.

The card stores the two-digit code; the card face (and our `IdCard.nation`) shows the
name without the trailing 族. Names follow the current GB/T 3304-1991 wording
(36 毛南, 46 德昂; older lists say 毛难, 崩龙). Sources: GB/T 3304-1991 table, as
reproduced in HslCommunication `SAMSerial.GetNationText` and many public lists.
"""

from __future__ import annotations

from peripherals.idcard.errors import IdCardCodecError

NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗",
    "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
    "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺",
    "97": "其他", "98": "外国血统中国籍人士",
}  # fmt: skip

CODES_BY_NAME: dict[str, str] = {name: code for code, name in NATIONS.items()}


def nation_name(code: str) -> str:
    """The name for a two-digit code; IdCardCodecError for a code GB 3304 does not have."""
    try:
        return NATIONS[code]
    except KeyError:
        raise IdCardCodecError("unknown nation code on card") from None


def nation_code(name: str) -> str:
    """The two-digit code for a name (with or without the trailing 族)."""
    code = CODES_BY_NAME.get(name) or (CODES_BY_NAME.get(name[:-1]) if name.endswith("族") else None)
    if code is None:
        raise IdCardCodecError("unknown nation name")
    return code
