"""Learned transaction categorizer: normalization, global model, company memory."""

from ledgerflow.books.classifier.categories import CATEGORIES
from ledgerflow.books.classifier.categorizer import Categorizer
from ledgerflow.books.classifier.memory import MerchantMemory
from ledgerflow.books.classifier.model import CategoryModel
from ledgerflow.books.classifier.normalize import merchant_key, normalize_description
from ledgerflow.books.classifier.prediction import Prediction

__all__ = [
    "CATEGORIES",
    "Categorizer",
    "CategoryModel",
    "MerchantMemory",
    "Prediction",
    "merchant_key",
    "normalize_description",
]
