"""Chat Lab's pure-Python core: no Streamlit import anywhere below this package."""
