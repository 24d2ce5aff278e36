"""The chat page's pieces: the history, the prompt, a reply streaming, branches, and the
views of one reply (probabilities, the request as sent).
"""
