"""Business metrics of the ticket platform, beside the request metrics of the add-on."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from app_under_test.sales import REFUSAL_REASONS


@dataclass(frozen=True)
class BusinessMetrics:
    """Counters the purchase flow increments.

    ``reason`` is a fixed set (:data:`~app_under_test.sales.REFUSAL_REASONS`), each
    pre-set to 0 so a rate over a quiet window is 0 rather than absent.
    """

    tickets_sold: Counter
    orders: Counter
    purchases_refused: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> "BusinessMetrics":
        metrics = cls(
            tickets_sold=Counter("tickets_sold_total", "Tickets sold (one order may hold several).",
                                 registry=registry),
            orders=Counter("tickets_orders_total", "Purchases completed.", registry=registry),
            purchases_refused=Counter("tickets_purchases_refused_total", "Purchases refused, by reason.",
                                      ["reason"], registry=registry),
        )
        for reason in REFUSAL_REASONS:
            metrics.purchases_refused.labels(reason=reason)
        return metrics
