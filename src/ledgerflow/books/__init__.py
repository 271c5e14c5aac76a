"""The bookkeeping domain: data model, importers, rules, classifier, journal entries, OCR, QBO."""
