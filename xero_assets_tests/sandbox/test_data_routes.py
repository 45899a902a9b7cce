"""The data routes over the real books: what the request carries reaches the books, and what they change is served.

Paging, filters and the books' own semantics are tested with the books (xero_assets_tests/sandbox_books); these
tests prove the server's half over HTTP: headers and parameters pass through, single records and XML work on real
data, and /_sandbox/truth and /_sandbox/mutate reach the right organisation.
"""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

from xero_assets.xero.dates import format_if_modified_since
from xero_assets_tests.sandbox.helpers import call

INVOICES = "/api.xro/2.0/Invoices"


def test_if_modified_since_header_reaches_the_books(real):
    sb, http, access, tenants = real
    later = format_if_modified_since(sb.app_state.clock.now() + timedelta(days=1))
    future = call(http, sb, access, INVOICES, tenant=tenants["AU"], headers={"If-Modified-Since": later})
    everything = call(http, sb, access, INVOICES, tenant=tenants["AU"], params={"page": 1})
    assert future.json()["Invoices"] == [] and len(everything.json()["Invoices"]) > 0


def test_journals_offset_reaches_the_books(real):
    sb, http, access, tenants = real
    first = call(http, sb, access, "/api.xro/2.0/Journals", tenant=tenants["NZ"]).json()["Journals"]
    last = first[-1]["JournalNumber"]
    after = call(http, sb, access, "/api.xro/2.0/Journals", tenant=tenants["NZ"], params={"offset": last})
    assert after.json()["Journals"][0]["JournalNumber"] > last


def test_a_real_invoice_page_reads_the_same_as_xml_and_as_json(real):
    sb, http, access, tenants = real
    params = {"page": 1, "pageSize": 50}
    as_json = call(http, sb, access, INVOICES, tenant=tenants["GB"], params=params).json()["Invoices"]
    as_xml = ElementTree.fromstring(
        call(http, sb, access, INVOICES, tenant=tenants["GB"], params=params, accept=None).content
    )
    assert [i.findtext("InvoiceID") for i in as_xml.findall("./Invoices/Invoice")] == [i["InvoiceID"] for i in as_json]


def test_a_record_is_read_alone_by_its_id_with_dates_escaped_on_the_wire(real):
    sb, http, access, tenants = real
    invoice = call(http, sb, access, INVOICES, tenant=tenants["US"], params={"page": 1}).json()["Invoices"][0]
    single = call(http, sb, access, f"{INVOICES}/{invoice['InvoiceID']}", tenant=tenants["US"])
    assert single.json()["Invoices"][0]["InvoiceID"] == invoice["InvoiceID"]
    assert '"UpdatedDateUTC":"\\/Date(' in single.text


def test_truth_is_the_asked_tenants_and_mutations_change_what_is_served(real):
    sb, http, access, tenants = real
    truth = http.get(f"{sb.base_url}/_sandbox/truth/{tenants['AU']}").json()
    assert truth["tenant_id"] == tenants["AU"]

    since = format_if_modified_since(sb.app_state.clock.now() - timedelta(seconds=1))
    changed = http.post(
        f"{sb.base_url}/_sandbox/mutate", json={"tenant_id": tenants["AU"], "action": "create", "api": "invoices"}
    )
    assert changed.status_code == 200, changed.text
    new_ids = changed.json()["ids"]
    served = call(http, sb, access, INVOICES, tenant=tenants["AU"], headers={"If-Modified-Since": since})
    assert set(new_ids) <= {i["InvoiceID"] for i in served.json()["Invoices"]}


def test_a_bad_mutation_is_a_400_with_the_books_reason(real):
    sb, http, _access, tenants = real
    refused = http.post(f"{sb.base_url}/_sandbox/mutate", json={"tenant_id": tenants["AU"], "action": "explode"})
    assert refused.status_code == 400 and refused.json()["error"]
