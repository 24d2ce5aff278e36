"""Streamlit functions that draw something and return plain values."""
