"""QR codes (standard 6.2, 6.3): issued, refreshed and decoded only by their province."""
