"""The compare page's pieces: the form, the stored runs, the cards and the charts."""
