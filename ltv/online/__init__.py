"""Network adapters of ltv (httpx lives only here and in the edges)."""
