"""The chat API for the Hexabase UI and other clients."""
