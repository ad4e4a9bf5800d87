"""The code tables of Appendix C of XJ-D01-2019, as data.

- C.1 business types (用码业务类型): 5 digits, first-level code (2) + second-level code
  (3); only the pairs printed in the table exist.
- C.2 id types: :data:`ID_TYPES`, defined in :mod:`node.domain.idno`.
- C.3 check results of a token check: :data:`CHECK_FAIL` / :data:`CHECK_OK`.
- C.4 return codes: :data:`ERRORS`. Each carries the table's Chinese description
  verbatim, a stable symbolic ``reason`` (the ``ErrorInfo.reason`` of a gRPC error, the
  same reason always meaning the same thing), a short English message and the name of
  the ``grpc.StatusCode`` a typed RPC answers with. The names are strings so the domain
  layer does not import grpc; ``getattr(grpc.StatusCode, e.grpc_status_name)`` gives the
  code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from node.domain.idno import ID_TYPES

__all__ = [
    "BUSINESS_TYPES",
    "BY_REASON",
    "BusinessType",
    "CHECK_FAIL",
    "CHECK_OK",
    "CHECK_RESULTS",
    "ERRORS",
    "ErrorCode",
    "ID_TYPES",
    "MED_TYPES",
    "SCOPE_CENTER",
    "SCOPE_SYSTEM",
    "error",
    "is_business_type",
]


# ------------------------------------------------------------------------ C.1


class BusinessType(NamedTuple):
    """A row of table C.1."""

    first_level_name: str
    second_level_name: str
    description: str


_H, _P, _A = "医院", "药店", "医疗类 APP"

BUSINESS_TYPES: dict[str, BusinessType] = {
    "01101": BusinessType(_H, "挂号", "替代社保卡（预约挂号，现场挂号，取号候诊）"),
    "01102": BusinessType(_H, "住院建档", "替代身份证、社保卡"),
    "01103": BusinessType(_H, "入院登记", "替代社保卡"),
    "01104": BusinessType(_H, "缴纳预缴金", "替代住院押金卡"),
    "01201": BusinessType(_H, "问诊", "替代挂号条、社保卡"),
    "01202": BusinessType(_H, "预约检查", "替代检查凭条、社保卡"),
    "01203": BusinessType(_H, "检查", "替代检查凭条、社保卡"),
    "01204": BusinessType(_H, "治疗", "替代挂号条、社保卡"),
    "01301": BusinessType(_H, "结算", "替代社保卡（门诊结算，出院结算）"),
    "01302": BusinessType(_H, "取药", "替代取药凭条、社保卡（门诊取药，出院带药）"),
    "01303": BusinessType(_H, "取报告", "替代取报告凭条"),
    "01304": BusinessType(
        _H,
        "打印票据和清单",
        "替代挂号条、社保卡（打印收费清单，票据清单，结算单，异地就医结算单）",
    ),
    "01305": BusinessType(_H, "病历材料复印", "替代身份证、社保卡（门诊和住院各类材料复印）"),
    "02121": BusinessType(_P, "药店购药", "替代社保卡"),
    "02122": BusinessType(_P, "下载外购处方", "替代社保卡、身份证"),
    "03131": BusinessType(
        _A, "医疗类 APP 线上身份认证", "替代社保卡，目前地方医保 APP 都是绑定社保卡"
    ),
    "03132": BusinessType(_A, "医疗类 APP 线上结算", "替代社保卡，目前地方医保 APP 都是绑定社保卡"),
}
"""Table C.1: business type code (5 digits) → names and description."""


def is_business_type(code: str) -> bool:
    """True when ``code`` is one of the business types of table C.1."""
    return code in BUSINESS_TYPES


# ------------------------------------------------------- medical types (医疗类别)

MED_TYPES: tuple[str, ...] = ("outpatient", "inpatient", "pharmacy")
"""The medical types a settlement names (not a table of the standard, which leaves
settlement to the insurance systems): the policy's keys, the notices' ``med_type``."""


# ------------------------------------------------------------------------ C.3

CHECK_FAIL = 0
CHECK_OK = 1
CHECK_RESULTS: dict[int, str] = {CHECK_FAIL: "校验失败", CHECK_OK: "校验成功"}
"""Table C.3: check result → description."""


# ------------------------------------------------------------------------ C.4

SCOPE_SYSTEM = "系统级"
SCOPE_CENTER = "电子凭证中心"


@dataclass(frozen=True)
class ErrorCode:
    """A row of table C.4, with what ecnet adds to it."""

    code: int
    scope: str
    zh: str
    reason: str
    en: str
    grpc_status_name: str


# code → (table description, reason, English message); the scope follows from the sign.
_C4: dict[int, tuple[str, str, str]] = {
    0: ("成功", "OK", "success"),
    -1: ("未知异常", "UNKNOWN_ERROR", "unknown error"),
    -2: ("请求参数异常", "INVALID_ARGUMENT", "invalid request parameters"),
    -3: ("服务端请求超时", "UPSTREAM_TIMEOUT", "upstream service timed out"),
    -4: ("权限校验异常", "PERMISSION_DENIED", "permission check failed"),
    -5: ("无效的请求地址", "INVALID_ENDPOINT", "invalid request address"),
    -6: ("触发限流", "RATE_LIMITED", "rate limit reached"),
    500001: ("该电子凭证不存在", "VOUCHER_NOT_FOUND", "voucher does not exist"),
    500002: ("该电子凭证未激活", "VOUCHER_NOT_ACTIVATED", "voucher is not activated"),
    500003: (
        "该用户在该应用渠道未授权",
        "CHANNEL_NOT_AUTHORIZED",
        "the user has not authorized this channel",
    ),
    500004: ("电子凭证密码错误", "WRONG_PASSWORD", "wrong voucher password"),
    500005: (
        "展码 id 失效或已过期",
        "QR_CODE_EXPIRED",
        "QR code is no longer valid or has expired",
    ),
    500008: ("非法授权码", "INVALID_AUTH_CODE", "invalid authorization code"),
    500012: ("该应用渠道不存在", "CHANNEL_NOT_FOUND", "channel does not exist"),
    500014: ("非法经办流水号", "INVALID_SERIAL_NO", "invalid business serial number"),
    500015: ("短信验证码错误", "WRONG_SMS_CODE", "wrong SMS verification code"),
    500020: (
        "修改授权信息表记录失败",
        "AUTHORIZATION_UPDATE_FAILED",
        "failed to update the authorization record",
    ),
    500021: ("未知交易", "UNKNOWN_TRANSACTION", "unknown transaction type"),
    500022: (
        "用户未授权或已过期，请重新进入",
        "USER_AUTHORIZATION_EXPIRED",
        "user authorization missing or expired, please start again",
    ),
    500023: ("缓存已过期，请重新进入", "CACHE_EXPIRED", "cache expired, please start again"),
    500024: (
        "需要生成的链接类型为空或不存在",
        "INVALID_LINK_TYPE",
        "link type to generate is empty or unknown",
    ),
    500027: ("获取手机号出错", "PHONE_LOOKUP_FAILED", "failed to get the phone number"),
    500028: ("获取实名信息出错", "REAL_NAME_LOOKUP_FAILED", "failed to get real-name information"),
    500036: ("签名出错", "SIGNATURE_INVALID", "signature error"),
    500037: (
        "非法实人认证流水号",
        "INVALID_LIVENESS_SERIAL_NO",
        "invalid real-person verification serial number",
    ),
    500040: (
        "该电子凭证应用渠道授权记录不存在",
        "AUTHORIZATION_NOT_FOUND",
        "no channel authorization record for this voucher",
    ),
    500042: ("电子凭证密码未设置", "PASSWORD_NOT_SET", "voucher password not set"),
    500049: ("电子凭证二维码无效", "QR_CODE_INVALID", "invalid voucher QR code"),
    500050: (
        "用户身份信息为空, 查询人员基础 Id 失败",
        "PERSON_NOT_FOUND",
        "identity information missing, person lookup failed",
    ),
    500051: (
        "业务流水已过期, 请重新进行业务办理",
        "BUSINESS_EXPIRED",
        "business transaction expired, please start the business again",
    ),
    500054: ("参保地为空", "INSURED_REGION_MISSING", "insured region is empty"),
    500056: (
        "缓存过期, 请重新进入",
        "VOUCHER_CACHE_EXPIRED",
        "cached voucher data expired, please start again",
    ),
    500057: ("用户身份信息校验不通过", "IDENTITY_CHECK_FAILED", "identity verification failed"),
    500058: ("人员信息错误", "PERSON_INFO_INVALID", "person information is wrong"),
    500067: ("无效 token", "TOKEN_INVALID", "invalid token"),
    500072: ("数据解密失败", "DECRYPTION_FAILED", "data decryption failed"),
    500073: ("数据加密失败", "ENCRYPTION_FAILED", "data encryption failed"),
    500079: (
        "输入密码错误次数超过 5 次, 账户已冻结",
        "VOUCHER_FROZEN",
        "more than 5 wrong passwords, account frozen",
    ),
    500080: ("生成密码页面时效性已过期", "PASSWORD_PAGE_EXPIRED", "password page has expired"),
    500081: ("核验密码页面已使用", "PASSWORD_PAGE_USED", "password page already used"),
    500082: ("未进行密码核验", "PASSWORD_NOT_VERIFIED", "password not verified"),
    500083: ("渠道缺少配置", "CHANNEL_NOT_CONFIGURED", "channel configuration missing"),
    500084: ("请求过于频繁, 请稍后再试", "TOO_MANY_REQUESTS", "too many requests, try again later"),
    500085: (
        "激活授权业务类型传输错误",
        "INVALID_ACTIVATION_BUSINESS_TYPE",
        "wrong activation/authorization business type",
    ),
    500086: (
        "请求获取激活页面失败, 该电子凭证已激活",
        "VOUCHER_ALREADY_ACTIVATED",
        "voucher already activated",
    ),
    500087: (
        "请求参数异常, 入参 authCode 异常!",
        "AUTH_CODE_MALFORMED",
        "invalid request parameter authCode",
    ),
    500088: (
        "请求获取授权页面失败, 该电子凭证已授权",
        "ALREADY_AUTHORIZED",
        "voucher already authorized for this channel",
    ),
    500089: ("密码不一致", "PASSWORD_MISMATCH", "passwords do not match"),
    500091: ("数据权限不足!", "INSUFFICIENT_DATA_PERMISSION", "insufficient data permission"),
    500094: (
        "请求地方中台获取展码链接",
        "USE_PROVINCIAL_QR_LINK",
        "ask the provincial platform for the QR display link",
    ),
    500095: ("手机号格式错误", "INVALID_PHONE_NUMBER", "invalid phone number format"),
    500096: ("异常实人认证串", "INVALID_LIVENESS_TOKEN", "invalid real-person verification data"),
    500097: ("异常授权数据", "INVALID_AUTHORIZATION_DATA", "invalid authorization data"),
    500098: ("缺少 orgId 入参", "MISSING_ORG_ID", "orgId parameter missing"),
    500100: ("无接口权限", "NO_INTERFACE_PERMISSION", "no permission for this interface"),
}

_GRPC_STATUS: dict[int, str] = {
    0: "OK",
    -1: "INTERNAL",
    -2: "INVALID_ARGUMENT",
    -3: "DEADLINE_EXCEEDED",
    -4: "PERMISSION_DENIED",
    -5: "UNIMPLEMENTED",
    -6: "RESOURCE_EXHAUSTED",
    **dict.fromkeys((500001, 500050, 500040, 500012), "NOT_FOUND"),
    **dict.fromkeys((500003, 500091, 500100, 500008, 500036), "PERMISSION_DENIED"),
    500084: "RESOURCE_EXHAUSTED",
    **dict.fromkeys((500086, 500088), "ALREADY_EXISTS"),
    500021: "UNIMPLEMENTED",
    **dict.fromkeys(
        (500057, 500004, 500089, 500095, 500087, 500098, 500014, 500085), "INVALID_ARGUMENT"
    ),
}
_DEFAULT_GRPC_STATUS = "FAILED_PRECONDITION"

ERRORS: dict[int, ErrorCode] = {
    code: ErrorCode(
        code=code,
        scope=SCOPE_SYSTEM if code <= 0 else SCOPE_CENTER,
        zh=zh,
        reason=reason,
        en=en,
        grpc_status_name=_GRPC_STATUS.get(code, _DEFAULT_GRPC_STATUS),
    )
    for code, (zh, reason, en) in _C4.items()
}
"""Table C.4: return code → :class:`ErrorCode`, in the table's order."""

BY_REASON: dict[str, ErrorCode] = {e.reason: e for e in ERRORS.values()}
"""The same entries, keyed by symbolic reason."""


def error(code: int) -> ErrorCode:
    """The :class:`ErrorCode` of a table C.4 code; ``KeyError`` for a code not in the table."""
    try:
        return ERRORS[code]
    except KeyError:
        raise KeyError(f"{code} is not a return code of table C.4") from None
