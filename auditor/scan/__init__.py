"""Dataset scanning: readers, recognizers, the scan engine and the legal categories it feeds."""
