"""Provider sandboxes: ASGI apps emulating MTN MoMo, AT Money and Telecel Cash APIs."""
