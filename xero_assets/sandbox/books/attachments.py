"""Which records carry a file, and the file: one in four records of the kinds Xero takes attachments on.

Deterministic from the record id alone (no stored state), so `HasAttachments` on a record and its
/{Collection}/{id}/Attachments answer always agree, and a mutation cannot make them drift. The file is a one-page
PDF named after the record, as a receipt or signed quote scanned into Xero would be.
"""

from __future__ import annotations

import uuid

# Catalog APIs whose records take attachments in Xero's accounting spec (/{Collection}/{id}/Attachments).
ATTACHABLE = frozenset(
    {
        "accounts",
        "bank_transactions",
        "bank_transfers",
        "contacts",
        "credit_notes",
        "invoices",
        "manual_journals",
        "purchase_orders",
        "quotes",
        "receipts",
        "repeating_invoices",
    }
)


def has_attachment(kind: str, record_id: str) -> bool:
    return kind in ATTACHABLE and int(record_id[-2:], 16) % 4 == 0


def attachment(kind: str, record_id: str) -> tuple[str, str, bytes] | None:
    """(AttachmentID, FileName, content) of the record's file, or None when it has none."""
    if not has_attachment(kind, record_id):
        return None
    attachment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"attachment:{record_id}"))
    return attachment_id, f"scan-{record_id[:8]}.pdf", pdf(f"Scanned document for {record_id}")


def pdf(text: str) -> bytes:
    """A minimal valid one-page PDF showing `text` (what /pdf and attachments serve)."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
