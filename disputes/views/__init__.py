"""The dispute's pages (``pages``), the moves made on them (``actions``, answered by
``respond``), and the notifications (``notifications``)."""
