"""What differs between an Australian, New Zealand, British and American Xero organisation.

Currency, tax rates (GST 10% / GST 15% / VAT 20% / US sales tax), the financial year end, the tax account's name and
which payroll API the country has. Everything else in the books is shared, so a test that passes for one country
exercises the same code paths for all four.
"""

from __future__ import annotations

from dataclasses import dataclass

from xero_assets.sandbox.books.model import TaxRate


@dataclass(frozen=True)
class CountryProfile:
    code: str  # Xero's CountryCode (GB for the United Kingdom)
    version: str  # Organisation.Version
    currency: str
    currency_name: str
    other_currencies: tuple[tuple[str, str], ...]
    timezone: str
    fy_end_day: int
    fy_end_month: int
    tax_name: str  # the tax liability account's name
    sales_tax: str  # default TaxType on sales lines
    purchase_tax: str
    exempt_sales_tax: str
    exempt_purchase_tax: str
    no_tax: str  # for lines outside tax altogether (manual journals, over/prepayments)
    tax_rates: tuple[TaxRate, ...]
    sales_tax_basis: str
    sales_tax_period: str
    cities: tuple[str, ...]
    company_suffix: str
    payroll: str | None  # "AU" (payroll.xro/1.0), "V2" (payroll.xro/2.0) or None

    def rate(self, tax_type: str) -> TaxRate:
        for rate in self.tax_rates:
            if rate.tax_type == tax_type:
                return rate
        raise KeyError(f"{self.code} has no tax type {tax_type}")


PROFILES: dict[str, CountryProfile] = {
    "AU": CountryProfile(
        code="AU",
        version="AU",
        currency="AUD",
        currency_name="Australian Dollar",
        other_currencies=(("NZD", "New Zealand Dollar"), ("USD", "United States Dollar")),
        timezone="AUSEASTERNSTANDARDTIME",
        fy_end_day=30,
        fy_end_month=6,
        tax_name="GST",
        sales_tax="OUTPUT",
        purchase_tax="INPUT",
        exempt_sales_tax="EXEMPTOUTPUT",
        exempt_purchase_tax="EXEMPTEXPENSES",
        no_tax="BASEXCLUDED",
        tax_rates=(
            TaxRate("OUTPUT", "GST on Income", 1000, "OUTPUT", True, False),
            TaxRate("INPUT", "GST on Expenses", 1000, "INPUT", False, True),
            TaxRate("EXEMPTOUTPUT", "GST Free Income", 0, "EXEMPTOUTPUT", True, False),
            TaxRate("EXEMPTEXPENSES", "GST Free Expenses", 0, "EXEMPTEXPENSES", False, True),
            TaxRate("BASEXCLUDED", "BAS Excluded", 0, "BASEXCLUDED", True, True),
            TaxRate("INPUTTAXED", "Input Taxed", 0, "INPUTTAXED", True, False),
        ),
        sales_tax_basis="ACCRUALS",
        sales_tax_period="QUARTERLY1",
        cities=("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Canberra"),
        company_suffix="Pty Ltd",
        payroll="AU",
    ),
    "NZ": CountryProfile(
        code="NZ",
        version="NZ",
        currency="NZD",
        currency_name="New Zealand Dollar",
        other_currencies=(("AUD", "Australian Dollar"), ("USD", "United States Dollar")),
        timezone="NEWZEALANDSTANDARDTIME",
        fy_end_day=31,
        fy_end_month=3,
        tax_name="GST",
        sales_tax="OUTPUT2",
        purchase_tax="INPUT2",
        exempt_sales_tax="ZERORATEDOUTPUT",
        exempt_purchase_tax="NONE",
        no_tax="NONE",
        tax_rates=(
            TaxRate("OUTPUT2", "15% GST on Income", 1500, "OUTPUT", True, False),
            TaxRate("INPUT2", "15% GST on Expenses", 1500, "INPUT", False, True),
            TaxRate("ZERORATEDOUTPUT", "Zero Rated", 0, "ZERORATEDOUTPUT", True, False),
            TaxRate("NONE", "No GST", 0, "NONE", True, True),
        ),
        sales_tax_basis="INVOICE",
        sales_tax_period="TWOMONTHS",
        cities=("Auckland", "Wellington", "Christchurch", "Hamilton", "Dunedin"),
        company_suffix="Limited",
        payroll="V2",
    ),
    "GB": CountryProfile(
        code="GB",
        version="UK",
        currency="GBP",
        currency_name="British Pound",
        other_currencies=(("EUR", "Euro"), ("USD", "United States Dollar")),
        timezone="GMTSTANDARDTIME",
        fy_end_day=31,
        fy_end_month=3,
        tax_name="VAT",
        sales_tax="OUTPUT2",
        purchase_tax="INPUT2",
        exempt_sales_tax="ZERORATEDOUTPUT",
        exempt_purchase_tax="ZERORATEDINPUT",
        no_tax="NONE",
        tax_rates=(
            TaxRate("OUTPUT2", "20% (VAT on Income)", 2000, "OUTPUT", True, False),
            TaxRate("INPUT2", "20% (VAT on Expenses)", 2000, "INPUT", False, True),
            TaxRate("ZERORATEDOUTPUT", "Zero Rated Income", 0, "ZERORATEDOUTPUT", True, False),
            TaxRate("ZERORATEDINPUT", "Zero Rated Expenses", 0, "ZERORATEDINPUT", False, True),
            TaxRate("NONE", "No VAT", 0, "NONE", True, True),
        ),
        sales_tax_basis="ACCRUAL",
        sales_tax_period="QUARTERLY1",
        cities=("London", "Manchester", "Birmingham", "Leeds", "Bristol", "Glasgow"),
        company_suffix="Ltd",
        payroll="V2",
    ),
    "US": CountryProfile(
        code="US",
        version="US",
        currency="USD",
        currency_name="United States Dollar",
        other_currencies=(("CAD", "Canadian Dollar"), ("EUR", "Euro")),
        timezone="EASTERNSTANDARDTIME",
        fy_end_day=31,
        fy_end_month=12,
        tax_name="Sales Tax",
        sales_tax="TAX001",
        purchase_tax="INPUT",
        exempt_sales_tax="NONE",
        exempt_purchase_tax="NONE",
        no_tax="NONE",
        tax_rates=(
            TaxRate("TAX001", "Sales Tax", 825, "USSALESTAX", True, False),
            TaxRate("INPUT", "Tax on Purchases", 0, "INPUT", False, True),
            TaxRate("NONE", "Tax Exempt", 0, "NONE", True, True),
        ),
        sales_tax_basis="ACCRUAL",
        sales_tax_period="MONTHLY",
        cities=("New York", "Chicago", "Austin", "Denver", "Seattle", "Atlanta"),
        company_suffix="Inc",
        payroll=None,
    ),
}

COUNTRY_ORDER = ("AU", "NZ", "GB", "US")
