"""Who owns the conversations: the signed-in user when auth is set up, else one local user.

Auth is Streamlit's own OIDC login (``st.login``), turned on by an ``[auth]`` section in
``.streamlit/secrets.toml``. Without it, Chat Lab is a single-user local app and every
conversation belongs to ``local``.
"""

from __future__ import annotations

import streamlit as st

from chatlab.markdown import plain

LOCAL_OWNER = "local"


def auth_configured() -> bool:
    """True when secrets.toml has an ``[auth]`` section."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml, or one that does not parse
        return False


def current_owner() -> str | None:
    """The owner of this session's conversations; None when a login is needed first."""
    if not auth_configured():
        return LOCAL_OWNER
    if not st.user.is_logged_in:
        return None
    # Issuer + subject is the stable identity OIDC guarantees; email can change.
    issuer, subject = st.user.get("iss"), st.user.get("sub")
    if issuer and subject:
        return f"{issuer}#{subject}"
    return str(st.user.get("email") or st.user.get("sub"))


def render_login() -> None:
    """The sign-in screen."""
    st.title("Chat Lab")
    st.write("Sign in to see your conversations.")
    st.button("Sign in", icon=":material/login:", on_click=st.login, type="primary")


def render_account() -> None:
    """Who is signed in, and a way out (only when auth is configured)."""
    if not auth_configured() or not st.user.is_logged_in:
        return
    with st.sidebar:
        name = st.user.get("name") or st.user.get("email") or "you"
        st.caption(f"Signed in as {plain(str(name))}")  # an OIDC claim: untrusted
        st.button("Sign out", icon=":material/logout:", on_click=st.logout)
