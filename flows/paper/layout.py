"""What goes on paper: the roll invoice form, the waybill label (with its CODE128 barcode),
the requisition slip. Text only from back-office answers (masked buyer, no ID number)."""

from __future__ import annotations

from typing import Any

from peripherals.printer.models import Barcode, Receipt, ReceiptLine


def invoice_receipt(invoice: Any) -> Receipt:
    """A paper invoice on its pre-numbered form; the form's own number is already printed,
    the printed number must match it (the reconciliation made sure)."""
    lines = list(invoice.printable_lines)
    title = lines[0] if lines else "发票"
    body = [ReceiptLine(text=line, bold=line.startswith("发票号码")) for line in lines[1:]]
    return Receipt(title=title, lines=body, qr=f"{invoice.invoice_code}:{invoice.invoice_number}",
                   footer="本发票由自助终端打印")


def waybill_receipt(waybill: Any, address: Any, *, contents: str, reference: str) -> Receipt:
    """The mailing label: recipient, destination, tracking number as a barcode."""
    return Receipt(title="中国邮政 EMS 邮件详情单", lines=[
        ReceiptLine(text=f"邮件号：{waybill.tracking_number}", bold=True),
        ReceiptLine(text=f"收件人：{address.recipient_name}  {address.phone}"),
        ReceiptLine(text=f"地址：{address.province}{address.city}{address.district}"),
        ReceiptLine(text=f"　　　{address.street}"),
        ReceiptLine(text=f"内件：{contents}  编号：{reference}"),
        ReceiptLine(text=f"邮费：¥{waybill.fee_fen // 100}.{waybill.fee_fen % 100:02d}（已付）"),
    ], barcode=Barcode(data=waybill.tracking_number), footer="寄件人：重庆市电子税务局邮寄中心")


def requisition_receipt(req: Any) -> Receipt:
    return Receipt(title="发票领用凭证", lines=[
        ReceiptLine(text=f"领用编号：{req.requisition_id}", bold=True),
        ReceiptLine(text=f"纳税人：{req.taxpayer}"),
        ReceiptLine(text=f"发票代码：{req.invoice_code}"),
        ReceiptLine(text=f"号码：{req.first_number} - {req.last_number}（{req.count} 份）"),
        ReceiptLine(text=f"领用时间：{req.issued_at:%Y-%m-%d %H:%M}"),
    ], barcode=Barcode(data=req.requisition_id), footer="请凭此凭证到窗口领取发票")
