"""MBG/NBD purchase model: Batislam, Denizel & Filiztekin (2007), "Empirical validation and
comparison of models for customer base analysis", IJRM 24(3).

Same as BG/NBD except that a customer can also drop out right after her first purchase, so a
customer with no repeat purchase is not assumed alive (P(alive) < 1 even when x = 0).
"""

from __future__ import annotations

from typing import ClassVar

from fidelcli.models.bgnbd import BGNBD


class MBGNBD(BGNBD):
    """MBG/NBD model. Parameters r, alpha (purchase rate), a, b (drop-out at each purchase,
    including the first one). Likelihood and expectations: see `fidelcli.models.bgnbd.bg_loglik`
    and `bg_expected` with `modified=True`.

    Example
    -------
    >>> model = MBGNBD().fit(x, t_x, T)
    >>> model.p_alive(x, t_x, T)
    """

    name: ClassVar[str] = "mbgnbd"
    _modified: ClassVar[bool] = True
