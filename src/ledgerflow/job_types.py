"""The job types ledgerflow runs: task names shared by the API (which enqueues them by name)
and ``ledgerflow.tasks`` (which implements them)."""

UPLOAD_AND_CATEGORIZE = "upload_and_categorize"
CATEGORIZE = "categorize_transactions"
RECEIPT_OCR = "process_receipt_ocr"
BULK_APPROVE = "bulk_approve_transactions"
EXPORT_QBO = "export_to_quickbooks"

ALL = (UPLOAD_AND_CATEGORIZE, CATEGORIZE, RECEIPT_OCR, BULK_APPROVE, EXPORT_QBO)
