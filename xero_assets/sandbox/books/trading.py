"""A month of an MSP's business: managed-services billing, hardware deals, bills, banking and expense claims.

Also how clients behave once billed (on time, late, in part, not at all; credits, overpayments and the odd void), so
the books carry every shape of document a sync meets. Each function takes the Generator and adds to its output.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from xero_assets.sandbox.books.attachments import has_attachment
from xero_assets.sandbox.books.ids import add_months
from xero_assets.sandbox.books.ledger import doc_posting, reversal_lines, transfer_posting
from xero_assets.sandbox.books.model import Contact, Doc, JournalLine, Line, Payment
from xero_assets.sandbox.books.render import iso_date, iso_time, line_id, money, ms_date

if TYPE_CHECKING:
    from xero_assets.sandbox.books.generate import Generator


def trade_month(gen: Generator, month: date) -> None:
    managed_services(gen, month)
    if month == gen.today.replace(day=1):
        drafts(gen, month)
    for _ in range(gen.spec.hardware_deals):
        hardware_deal(gen, month)
    overhead_bills(gen, month)
    banking(gen, month)
    if month.month % 3 == 0:
        expense_claim(gen, month)


def managed_services(gen: Generator, month: date) -> None:
    rng = gen.rng
    sales, licence_tax = gen.tax("sales"), gen.tax("sales")
    service_acc, licence_acc = gen.acc("200"), gen.acc("230")
    managed, licensing = gen.service_options["Managed Services"], gen.service_options["Licensing"]
    for contact, prof in gen.customers:
        if prof["onboard"] > month + timedelta(days=27) or (prof["churn"] and prof["churn"] < month):
            continue
        day = max(month, prof["onboard"])
        if day > gen.today:
            continue
        if rng.random() < 0.15:
            prof["users"] = max(2, prof["users"] + rng.choice((-2, -1, 1, 1, 2, 3)))
        users = prof["users"]
        region = prof["region"] if contact.seq % 3 else None  # two clients in three are coded to their region
        lines = [
            Line("Managed IT services - per user", users, prof["rate"], service_acc, sales, None, managed, region),
            Line("Microsoft 365 Business Premium", users, prof["licence"], licence_acc, licence_tax, None, licensing,
                 region),
        ]  # fmt: skip
        if prof["backup"]:
            lines.append(Line("Cloud backup", 1, prof["backup"], service_acc, sales, None, managed, region))
        if prof["repeating"] is None:
            prof["repeating"] = repeating_invoice(gen, contact, day, lines)
        status = "AUTHORISED"
        if day >= gen.today - timedelta(days=3) and rng.random() < 0.3:
            status = "DRAFT"
        elif rng.random() < 0.003:
            status = "DELETED"
        doc = gen.add_doc(
            "invoices", "ACCREC", contact, day, lines,
            due=day + timedelta(days=20), number=gen.number("INV", 6), status=status,
            reference=f"Managed services {month:%b %Y}", repeating_id=prof["repeating"].id,
        )  # fmt: skip
        if status == "AUTHORISED":
            settle_sale(gen, doc, prof)


def drafts(gen: Generator, month: date) -> None:
    """Work in progress this month: draft invoices for ad-hoc support, not yet approved (nor posted)."""
    for _ in range(max(3, gen.spec.customers // 50)):
        contact, _ = gen.rng.choice(gen.customers)
        day = month + timedelta(days=gen.rng.randrange(0, max(1, (gen.today - month).days + 1)))
        line = Line("Ad-hoc support hours", gen.rng.randrange(1, 8), 15000, gen.acc("220"), gen.tax("sales"))
        gen.add_doc("invoices", "ACCREC", contact, day, [line], due=day + timedelta(days=20),
                     number=gen.number("INV", 6), status="DRAFT", reference="Ad-hoc support")  # fmt: skip


def settle_sale(gen: Generator, doc: Doc, prof: dict[str, Any]) -> None:
    """Customer behaviour: pay on time, late, in part, not at all; sometimes a credit, overpayment or void."""
    rng = gen.rng
    roll = rng.random()
    if roll < 0.004 and not doc.allocations:
        gen.void(doc, doc.date + timedelta(days=rng.randrange(1, 10)))
        return
    total = doc.total
    if roll < 0.03:
        credit_cents = max(1000, total * rng.randrange(5, 30) // 100)
        credit = gen.credit_note(doc.contact, doc.date + timedelta(days=rng.randrange(2, 12)), credit_cents)
        if rng.random() < 0.85 and credit.date <= gen.today:
            gen.allocate(credit, doc, min(credit.total, total), credit.date)
        elif prof["credit"] is None:
            prof["credit"] = credit
    if prof["credit"] is not None and rng.random() < 0.5:
        credit = prof["credit"]
        amount = min(credit.outstanding(), doc.outstanding())
        if amount > 0:
            gen.allocate(credit, doc, amount, max(doc.date, credit.date))
        prof["credit"] = None
    due = doc.due or doc.date
    payer = prof["payer"]
    if payer == "prompt":
        plan = [(due - timedelta(days=rng.randrange(0, 16)), 1.0)]
    elif payer == "late":
        plan = [(due + timedelta(days=rng.randrange(5, 46)), 1.0)]
    elif payer == "partial":
        plan = [
            (due + timedelta(days=rng.randrange(0, 10)), 0.5),
            (due + timedelta(days=rng.randrange(25, 70)), 1.0),
        ]
    else:
        plan = [(due + timedelta(days=rng.randrange(60, 150)), 1.0)]
    for day, share in plan:
        day = max(day, doc.date)
        outstanding = doc.outstanding()
        if day > gen.today or outstanding <= 0:
            break
        amount = outstanding if share >= 1.0 else outstanding // 2
        # Rare, but every organisation has at least one (a late payer's), so /Overpayments is never empty.
        if share >= 1.0 and (rng.random() < 0.004 or (payer == "late" and not gen.out["overpayments"])):
            overpay(gen, doc, day, outstanding)
            break
        payment = gen.pay(doc, day, amount)
        if rng.random() < 0.004 and day + timedelta(days=7) <= gen.today:
            gen.delete_payment(payment, day + timedelta(days=3))  # dishonoured, then paid again
            gen.pay(doc, day + timedelta(days=7), amount)


def overpay(gen: Generator, doc: Doc, day: date, outstanding: int) -> None:
    """The client pays more than owed: the invoice is settled and the excess waits as an overpayment."""
    gen.pay(doc, day, outstanding)
    extra = gen.rng.randrange(5000, 50000)
    line = Line("Overpayment", 1, extra, gen.books.controls.ar, gen.tax("none"))
    gen.add_doc("overpayments", "RECEIVE-OVERPAYMENT", doc.contact, day, [line], bank=gen.acc("090"),
                 reference=f"Overpaid {doc.number}")  # fmt: skip


def repeating_invoice(gen: Generator, contact: Contact, day: date, lines: list[Line]) -> Doc:
    schedule = {
        "Period": 1, "Unit": "MONTHLY", "DueDate": 20, "DueDateType": "DAYSAFTERBILLDATE",
        "StartDate": ms_date(day), "NextScheduledDate": ms_date(add_months(gen.today.replace(day=1), 1)),
    }  # fmt: skip
    doc = gen.add_doc(
        "repeating_invoices", "ACCREC", contact, day, lines, reference="Managed services [Month] [Year]",
        post=False, extra={"Schedule": schedule, "ApprovedForSending": False, "SendCopy": False,
                           "MarkAsSent": True, "IncludePDF": False},
    )  # fmt: skip
    doc.extra["ID"] = doc.id  # type: ignore[index]
    return doc


def hardware_deal(gen: Generator, month: date) -> None:
    """Quote -> purchase order -> supplier bill -> client invoice, with a deposit and a billable-expense link."""
    rng = gen.rng
    contact, prof = rng.choice(gen.customers)
    if prof["onboard"] > month:
        return
    day = month + timedelta(days=rng.randrange(0, 28))
    if day > gen.today:
        return
    hardware = gen.service_options["Hardware"]
    picks = rng.sample(gen.items, rng.randrange(1, 4))
    quantities = [rng.randrange(1, 8) for _ in picks]
    sale_lines = [Line(i.name, q, i.sale_cents, i.sales_account, gen.tax("sales"), i, hardware)
                  for i, q in zip(picks, quantities, strict=True)]  # fmt: skip
    cost_lines = [Line(i.name, q, i.cost_cents, i.purchase_account, gen.tax("purchase"), i, hardware)
                  for i, q in zip(picks, quantities, strict=True)]  # fmt: skip
    fate = rng.random()
    quote_status = "DECLINED" if fate < 0.1 else "SENT" if fate < 0.18 else "INVOICED"
    if day > gen.today - timedelta(days=7) and quote_status == "INVOICED":
        quote_status = "ACCEPTED"
    gen.add_doc("quotes", "ACCREC", contact, day, sale_lines, due=day + timedelta(days=30),
                 number=gen.number("QU", 5), status=quote_status, post=False,
                 extra={"Title": "Hardware refresh", "Summary": f"Hardware for {contact.name}",
                        "Terms": "Valid for 30 days", "TotalDiscount": 0.0})  # fmt: skip
    if quote_status in ("DECLINED", "SENT"):
        return
    supplier = gen.suppliers[rng.randrange(0, 2)]
    po_day = min(day + timedelta(days=rng.randrange(0, 3)), gen.today)
    billed = quote_status == "INVOICED"
    gen.add_doc("purchase_orders", "ACCPAY", supplier, po_day, cost_lines, due=po_day + timedelta(days=7),
                 number=gen.number("PO", 5), status="BILLED" if billed else "AUTHORISED", post=False,
                 extra={"SentToContact": True, "DeliveryAddress": f"{contact.name}, {contact.city}",
                        "AttentionTo": contact.first_name, "DeliveryInstructions": "Deliver to reception",
                        "TotalDiscount": 0.0})  # fmt: skip
    if not billed:
        return
    total_sale = sum(li.amount + li.tax_cents for li in sale_lines)
    deposit = None
    if rng.random() < 0.25:
        deposit_cents = total_sale // 2
        deposit = gen.add_doc("prepayments", "RECEIVE-PREPAYMENT", contact, day,
                               [Line("Deposit on hardware order", 1, deposit_cents, gen.books.controls.ar,
                                     gen.tax("none"))], bank=gen.acc("090"),
                               reference="Hardware deposit")  # fmt: skip
    bill_day = min(po_day + timedelta(days=rng.randrange(2, 10)), gen.today)
    bill = gen.add_doc("invoices", "ACCPAY", supplier, bill_day, cost_lines, due=bill_day + timedelta(days=30),
                        number=f"{supplier.name.split()[0][:3].upper()}-{rng.randrange(10**6, 10**7)}",
                        reference=f"PO for {contact.name}")  # fmt: skip
    pay_bill(gen, bill)
    invoice_day = min(bill_day + timedelta(days=rng.randrange(0, 5)), gen.today)
    invoice = gen.add_doc("invoices", "ACCREC", contact, invoice_day, sale_lines,
                           due=invoice_day + timedelta(days=14), number=gen.number("INV", 6),
                           reference="Hardware supply")  # fmt: skip
    for index in range(len(sale_lines)):
        link_id = gen.ids()
        gen.plain("linked_transactions", link_id, bill.updated, {
            "LinkedTransactionID": link_id, "SourceTransactionID": bill.id,
            "SourceLineItemID": line_id(bill.id, index), "ContactID": contact.id,
            "TargetTransactionID": invoice.id, "TargetLineItemID": line_id(invoice.id, index),
            "Status": "BILLED", "Type": "BILLABLEEXPENSE", "SourceTransactionTypeCode": "ACCPAY",
        }, status="BILLED")  # fmt: skip
    if deposit is not None:
        gen.allocate(deposit, invoice, min(deposit.total, invoice.total), invoice_day)
    settle_sale(gen, invoice, prof)


def pay_bill(gen: Generator, bill: Doc, batch_id: str | None = None) -> Payment | None:
    day = (bill.due or bill.date) - timedelta(days=gen.rng.randrange(0, 10))
    day = max(day, bill.date)
    if day > gen.today:
        return None
    return gen.pay(bill, day, bill.outstanding(), batch_id=batch_id)


def overhead_bills(gen: Generator, month: date) -> None:
    """Distributor licences, tools, rent, telco and subcontractors; distributor bills go out in one batch."""
    rng = gen.rng
    day = month + timedelta(days=rng.randrange(0, 5))
    if day > gen.today:
        return
    active_users = sum(p["users"] for c, p in gen.customers if p["onboard"] <= month)
    purchase = gen.tax("purchase")
    fixed = [
        (gen.suppliers[0], "Microsoft 365 licences", max(1, active_users), 2700, "320"),
        (gen.suppliers[2], "PSA and RMM tooling", 1, 180000 + 2000 * len(gen.customers), "485"),
        (gen.suppliers[3], "Backup platform", 1, 90000 + 900 * len(gen.customers), "320"),
        (gen.suppliers[4], "Phone and internet", 1, 45000, "489"),
        (gen.suppliers[5], "Office rent", 1, 650000, "469"),
    ]
    if month.month % 3 == 1:
        fixed.append((gen.suppliers[8], "Quarterly accounting", 1, 220000, "412"))
    bills: list[Doc] = []
    for supplier, text, qty, unit, code in fixed:
        line = Line(text, qty, unit, gen.acc(code), purchase)
        bills.append(gen.add_doc("invoices", "ACCPAY", supplier, day, [line], due=day + timedelta(days=30),
                                  number=f"BILL-{rng.randrange(10**7, 10**8)}", reference=text))  # fmt: skip
    contractors = gen.suppliers[10:] or gen.suppliers[6:8]
    for _ in range(gen.spec.contractor_bills):
        supplier = rng.choice(contractors)
        bill_day = month + timedelta(days=rng.randrange(0, 28))
        if bill_day > gen.today:
            continue
        line = Line("Subcontracted project work", rng.randrange(4, 40), rng.choice((9500, 11000, 13500)),
                    gen.acc("330"), purchase, None, gen.service_options["Projects"])  # fmt: skip
        status = "DRAFT" if bill_day > gen.today - timedelta(days=5) and rng.random() < 0.3 else "AUTHORISED"
        bill = gen.add_doc("invoices", "ACCPAY", supplier, bill_day, [line], due=bill_day + timedelta(days=30),
                            number=f"SC-{rng.randrange(10**6, 10**7)}", status=status)  # fmt: skip
        if status == "AUTHORISED":
            if rng.random() < 0.02:
                credit = gen.credit_note(supplier, bill_day + timedelta(days=3), line.amount // 10, True)
                gen.allocate(credit, bill, min(credit.total, bill.total), credit.date)
            pay_bill(gen, bill)
    batch_day = day + timedelta(days=25)
    if batch_day <= gen.today:
        batch_pay(gen, bills, batch_day)


def batch_pay(gen: Generator, bills: list[Doc], day: date) -> None:
    batch_id = gen.ids()
    payments = [gen.pay(bill, day, bill.outstanding(), batch_id=batch_id) for bill in bills if bill.outstanding()]
    if not payments:
        return
    total = sum(p.amount for p in payments)
    bank = gen.acc("090")
    gen.plain("batch_payments", batch_id, max(p.updated for p in payments), {
        "BatchPaymentID": batch_id, "Account": {"AccountID": bank.id, "Code": bank.code, "Name": bank.name},
        "Reference": f"Supplier run {day:%d %b %Y}", "Date": ms_date(day), "DateString": iso_date(day),
        "Type": "PAYBATCH", "Status": "AUTHORISED", "TotalAmount": money(total), "Amount": money(total),
        "IsReconciled": True,
        "Payments": [{"PaymentID": p.id, "Amount": money(p.amount), "Reference": p.reference,
                      "Invoice": {"InvoiceID": p.doc.id, "InvoiceNumber": p.doc.number, "Type": p.doc.type,
                                  "Contact": {"ContactID": p.doc.contact.id, "Name": p.doc.contact.name},
                                  "LineItems": []}} for p in payments],
    }, status="AUTHORISED")  # fmt: skip


def banking(gen: Generator, month: date) -> None:
    """Spend and receive money, wages, depreciation and a transfer to savings."""
    rng = gen.rng
    bank = gen.acc("090")
    last = min(add_months(month, 1) - timedelta(days=1), gen.today)
    if last < month:
        return
    fee_day = last
    wages = Line("Net wages", 1, 1_800_000 + 40_000 * gen.spec.employees, gen.acc("477"), gen.tax("none"))
    fees = Line("Monthly account fee", 1, rng.randrange(2500, 6000), gen.acc("404"), gen.tax("none"))
    interest = Line("Interest", 1, rng.randrange(500, 9000), gen.acc("270"), gen.tax("none"))
    misc = Line("Team lunch", 1, rng.randrange(8000, 40000), gen.acc("420"), gen.tax("purchase"))
    staff = gen.suppliers[9] if len(gen.suppliers) > 9 else gen.suppliers[-1]
    bank_contact = gen.suppliers[7] if len(gen.suppliers) > 7 else gen.suppliers[-1]
    for type_, contact, line in (
        ("SPEND", staff, wages),
        ("SPEND", bank_contact, fees),
        ("RECEIVE", bank_contact, interest),
        ("SPEND", bank_contact, misc),
    ):
        gen.add_doc("bank_transactions", type_, contact, fee_day, [line], bank=bank,
                     reference=line.description)  # fmt: skip
    if last.day >= 28:
        scale = max(1, gen.spec.customers // 20)
        gen.manual_journal(last, f"Depreciation {month:%b %Y}",
                            [("416", 25_000 * scale, "Depreciation"),
                             ("721", -25_000 * scale, "Accumulated depreciation")])  # fmt: skip
        transfer(gen, last, rng.randrange(100_000, 500_000) * max(1, gen.spec.customers // 20))


def transfer(gen: Generator, day: date, cents: int) -> None:
    source, target = gen.acc("090"), gen.acc("091")
    created = gen.stamp(day)
    transfer_id = gen.ids()
    deleted = len(gen.out["bank_transfers"]) % 10 == 2  # one in ten, at least one per organisation
    lines = transfer_posting(source, target, cents)
    gen.books.ledger.post(day, created, "TRANSFER", transfer_id, lines, "Transfer to savings")
    if deleted:
        gen.books.ledger.post(day, created + timedelta(hours=1), "TRANSFER", transfer_id,
                               reversal_lines(lines), "Transfer to savings")  # fmt: skip
    gen.plain("bank_transfers", transfer_id, created, {
        "BankTransferID": transfer_id,
        "FromBankAccount": {"AccountID": source.id, "Code": source.code, "Name": source.name},
        "ToBankAccount": {"AccountID": target.id, "Code": target.code, "Name": target.name},
        "Amount": money(cents), "Date": ms_date(day), "DateString": f"{day.isoformat()} 00:00:00",
        "FromBankTransactionID": gen.ids(), "ToBankTransactionID": gen.ids(), "FromIsReconciled": True,
        "ToIsReconciled": True, "Reference": "Transfer to savings", "CurrencyRate": 1.0,
        "HasAttachments": has_attachment("bank_transfers", transfer_id),
        "CreatedDateUTCString": iso_time(created).replace("T", " ").rstrip("Z"),
        "Status": "DELETED" if deleted else "AUTHORISED",
    }, status="DELETED" if deleted else "AUTHORISED", hidden=deleted)  # fmt: skip


def expense_claim(gen: Generator, month: date) -> None:
    """A staff member claims a few receipts; the claim posts EXPCLAIM and is reimbursed (EXPPAYMENT)."""
    rng = gen.rng
    day = month + timedelta(days=rng.randrange(5, 25))
    if day > gen.today:
        return
    user = gen.out["users"][0]
    user_ref = {"UserID": user.id, "FirstName": user.data["FirstName"], "LastName": user.data["LastName"],
                "EmailAddress": user.data["EmailAddress"], "OrganisationRole": "STANDARD"}  # fmt: skip
    receipts = []
    for n in range(rng.randrange(1, 4)):
        line = Line("Client site travel", 1, rng.randrange(2000, 30000), gen.acc("493"), gen.tax("purchase"))
        receipt = gen.add_doc("receipts", "ACCPAY", rng.choice(gen.suppliers), day - timedelta(days=n), [line],
                               number=f"RPT{gen.seq:05d}", status="AUTHORISED", post=False,
                               extra={"User": user_ref}, reference="Travel")  # fmt: skip
        receipts.append(receipt)
    claim_id = gen.ids()
    created = gen.stamp(day)
    lines: list[JournalLine] = []
    for receipt in receipts:
        lines += doc_posting(receipt, gen.books.controls)[1]
    gen.books.ledger.post(day, created, "EXPCLAIM", claim_id, lines, "Expense claim")
    total = sum(r.total for r in receipts)
    pay_day = day + timedelta(days=7)
    paid = pay_day <= gen.today
    updated = created
    payments = []
    if paid:
        pay_created = gen.stamp(pay_day)
        updated = pay_created
        pay_id = gen.ids()
        ap, bank = gen.books.controls.ap, gen.acc("090")
        gen.books.ledger.post(pay_day, pay_created, "EXPPAYMENT", pay_id,
                               [(ap, total, 0, None, "", None), (bank, -total, 0, None, "", None)],
                               "Expense claim payment")  # fmt: skip
        payments = [{"PaymentID": pay_id, "Date": ms_date(pay_day), "Amount": money(total), "Reference": "",
                     "CurrencyRate": 1.0, "HasAccount": False, "HasValidationErrors": False}]  # fmt: skip
    gen.plain("expense_claims", claim_id, updated, {
        "ExpenseClaimID": claim_id, "Status": "PAID" if paid else "AUTHORISED", "User": user_ref,
        "Receipts": [{"ReceiptID": r.id, "ReceiptNumber": r.number, "Total": money(r.total), "LineItems": []}
                     for r in receipts],
        "Payments": payments, "Total": money(total), "AmountDue": 0.0 if paid else money(total),
        "AmountPaid": money(total) if paid else 0.0, "PaymentDueDate": ms_date(pay_day),
        "ReportingDate": ms_date(day),
    }, status="PAID" if paid else "AUTHORISED")  # fmt: skip
