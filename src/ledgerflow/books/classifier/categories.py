"""The category set of the learned categorizer.

These are account names of the default chart of accounts; clients match on the exact strings, so
they must never be renamed here without a migration.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "Sales",
    "Service income",
    "Interest income",
    "Other income",
    "Advertising & marketing",
    "Bank fees & service charges",
    "Car & truck",
    "Contract labor",
    "Dues & subscriptions",
    "Insurance",
    "Interest paid",
    "Legal & accounting services",
    "Meals",
    "Office supplies & software",
    "Payroll expenses",
    "Rent",
    "Repairs & maintenance",
    "Shipping & postage",
    "Supplies & materials",
    "Taxes & licenses",
    "Travel",
    "Utilities",
    "Owner's draw",
    "Owner's investment",
    "Transfer",
    "Loan payment",
    "Uncategorized expense",
    "Uncategorized income",
)

INCOME_CATEGORIES: frozenset[str] = frozenset(
    {"Sales", "Service income", "Interest income", "Other income", "Uncategorized income"}
)
