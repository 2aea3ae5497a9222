"""Printed and published reports: the progress sheet, the yearly report (PDF)."""
