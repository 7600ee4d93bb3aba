"""Vectorised Monte Carlo kernels for the 2D Ising model (private; the public API is ``ising``).

Both kernels advance many independent chains at once, each chain with its own inverse temperature,
and run unchanged on any torch device. Randomness comes only from the ``torch.Generator`` they are
given. Spins live on a periodic ``L x L`` lattice with the Hamiltonian

    H = -J sum_i s_i (s_{i+x} + s_{i+y}) - h sum_i s_i,

i.e. every site owns its right and its down bond (2N bonds). On a 2x2 lattice the right and the left
neighbour coincide, so each neighbouring pair is joined by two bonds: the kernels see the same
doubled bonds, which keeps them consistent with ``ising.observables`` and ``ising.exact_enumeration``.

``CheckerboardMetropolis``
    The lattice is split into its two sublattices (x + y even: "A", odd: "B"), each stored as an
    ``(C, L, L/2)`` int8 tensor. All sites of one sublattice are independent given the other, so a
    sweep is two vectorised half-sweeps. A half-sweep draws one 32-bit uniform per site and compares
    it with a per-chain threshold table of f min(1, exp(-beta dE)) indexed by the local energy
    change (spin times neighbour sum, and the spin itself when there is a field): no exponentials,
    no floating point, in-place int8 arithmetic. f = ``ACCEPTANCE_FACTOR`` (see there).

``PackedWolff``
    Multi-spin coding: chain ``c`` is bit ``c % 64`` (permuted, see ``_lane_bit``) of word ``c // 64``,
    so one int64 holds one site of 64 chains. A step draws every bond of every chain at once (the
    Swendsen-Wang bond configuration, bond active with probability 1 - exp(-2 beta |J|) between
    aligned spins) and grows, for every chain, the cluster of one random seed by a breadth-first
    search with bitwise operations (frontier -> bonded neighbours not yet in the cluster). The
    cluster of a seed in the Swendsen-Wang bond configuration has exactly the distribution of a
    Wolff cluster (Wolff, PRL 62, 361 (1989)), because each bond is tested once and independently.

Thresholds: a uniform 32-bit integer ``r`` (signed view) is accepted when ``r <= t`` with
``t = floor(p 2^32) - 2^31 - 1``, so P(accept) = floor(p 2^32) / 2^32: p = 1 is exact, and any p is
resolved to 2^-32 (a float32 uniform resolves 2^-24).
"""

from __future__ import annotations

import torch
from torch import Tensor

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_BYTE_ONES = 0x0101010101010101  # one set bit in every byte of an int64

#: Metropolis acceptance is ACCEPTANCE_FACTOR * min(1, exp(-beta dE)). Any factor in (0, 1] keeps
#: detailed balance (the ratio of forward and backward acceptance is unchanged); a factor below 1
#: makes every flip optional, so one sweep can reach every configuration and the chain is
#: irreducible. With the plain min(1, .) the checkerboard chain is not: the states in which every
#: site has dE <= 0, such as width-1 stripes, are forced back and forth among themselves and
#: never reached from elsewhere (4 of the 16 states of 2x2, 36 of the 65,536 of 4x4).
ACCEPTANCE_FACTOR = 1.0 - 2.0**-6


def acceptance_threshold(p: Tensor) -> Tensor:
    """int32 thresholds t with P(r <= t) = floor(p 2^32) / 2^32 for r uniform on int32."""
    t = torch.floor(p.double().clamp(0.0, 1.0) * 2.0**32) + (_INT32_MIN - 1)
    return t.clamp(_INT32_MIN, _INT32_MAX).to(torch.int32)


def uniform_int32(buffer: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """``n`` uniform int32 numbers drawn into ``buffer`` (int64, >= ceil(n/2) entries)."""
    words = buffer[: (n + 1) // 2]
    words.random_(-(2**63), None, generator=generator)  # the full 64-bit range: 2 int32 per word
    return words.view(torch.int32)[:n]


def stagger(lattice_size: int, device: torch.device | str = "cpu") -> Tensor:
    """(-1)^(x+y) as an int8 ``(L, L)`` tensor: the gauge map between J and -J on a bipartite lattice."""
    idx = torch.arange(lattice_size, device=device)
    return (1 - 2 * ((idx[:, None] + idx[None, :]) % 2)).to(torch.int8)


# --------------------------------------------------------------------------------------------------
# Checkerboard Metropolis
# --------------------------------------------------------------------------------------------------


def split_sublattices(spins: Tensor) -> tuple[Tensor, Tensor]:
    """(C, L, L) -> (A, B), each (C, L, L/2): A holds x + y even, B holds x + y odd.

    Row r, column k of A is the site x = 2k + (r % 2); of B the site x = 2k + 1 - (r % 2).
    """
    c, size, _ = spins.shape
    pairs = spins.reshape(c, size, size // 2, 2)
    a = torch.empty(c, size, size // 2, dtype=spins.dtype, device=spins.device)
    b = torch.empty_like(a)
    a[:, 0::2], a[:, 1::2] = pairs[:, 0::2, :, 0], pairs[:, 1::2, :, 1]
    b[:, 0::2], b[:, 1::2] = pairs[:, 0::2, :, 1], pairs[:, 1::2, :, 0]
    return a, b


def merge_sublattices(a: Tensor, b: Tensor) -> Tensor:
    """Inverse of :func:`split_sublattices`."""
    c, size, half = a.shape
    pairs = torch.empty(c, size, half, 2, dtype=a.dtype, device=a.device)
    pairs[:, 0::2, :, 0], pairs[:, 1::2, :, 1] = a[:, 0::2], a[:, 1::2]
    pairs[:, 0::2, :, 1], pairs[:, 1::2, :, 0] = b[:, 0::2], b[:, 1::2]
    return pairs.reshape(c, size, 2 * half)


class CheckerboardMetropolis:
    """Single-spin-flip Metropolis on the two sublattices, vectorised over chains.

    Parameters
    ----------
    spins : Tensor, (C, L, L) int8, +-1, L even
        Initial configurations (copied).
    beta : Tensor, (C,) float64
        Inverse temperature of every chain.
    coupling, field : float
        J and h; the caller rejects ``coupling == field == 0`` (nothing to sample).
    generator : torch.Generator
        On the device of ``spins``.
    """

    def __init__(
        self, spins: Tensor, beta: Tensor, coupling: float, field: float, generator: torch.Generator
    ):
        self.device = spins.device
        self.lattice_size = spins.shape[-1]
        self.coupling, self.field = float(coupling), float(field)
        self.generator = generator
        self.a, self.b = split_sublattices(spins.to(torch.int8))
        self._set_beta(beta.to(device=self.device, dtype=torch.float64))

    @property
    def n_chains(self) -> int:
        return self.a.shape[0]

    def _set_beta(self, beta: Tensor) -> None:
        self.beta = beta
        c, size, half = self.a.shape
        j, h = self.coupling, self.field
        f = ACCEPTANCE_FACTOR
        if h == 0.0:
            # dE = 2 |J| k with k = sign(J) s * (neighbour sum) in {-4, -2, 0, 2, 4}
            self.t0 = acceptance_threshold(torch.full_like(beta, f)).view(c, 1, 1)
            self.t2 = acceptance_threshold(f * torch.exp(-4.0 * abs(j) * beta)).view(c, 1, 1)
            self.t4 = acceptance_threshold(f * torch.exp(-8.0 * abs(j) * beta)).view(c, 1, 1)
        else:
            # dE = 2 (J k + h s), k = s * (neighbour sum); table index (k + 4) / 2 + 5 [s > 0]
            k = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64, device=self.device)
            s = torch.tensor([-1.0, 1.0], dtype=torch.float64, device=self.device)
            de = 2.0 * (j * k[None, :] + h * s[:, None]).reshape(-1)  # (10,) s-major
            p = f * torch.exp(-beta[:, None] * de[None, :]).clamp(max=1.0)
            self.table = acceptance_threshold(p)  # (C, 10)
        shape = (c, size, half)
        self._nb = torch.empty(shape, dtype=torch.int8, device=self.device)
        self._tmp = torch.empty(shape, dtype=torch.int8, device=self.device)
        self._b1 = torch.empty(shape, dtype=torch.bool, device=self.device)
        self._b2 = torch.empty(shape, dtype=torch.bool, device=self.device)
        self._b3 = torch.empty(shape, dtype=torch.bool, device=self.device)
        self._random = torch.empty(
            (c * size * half + 1) // 2, dtype=torch.int64, device=self.device
        )

    def keep(self, chains: Tensor) -> None:
        """Keep only the chains at positions ``chains`` (in that order)."""
        chains = chains.to(self.device)
        self.a = self.a.index_select(0, chains)
        self.b = self.b.index_select(0, chains)
        self._set_beta(self.beta.index_select(0, chains))

    def spins(self, chains: Tensor | None = None) -> Tensor:
        """(C, L, L) int8 configurations (of the chains at positions ``chains``)."""
        if chains is None:
            return merge_sublattices(self.a, self.b)
        chains = chains.to(self.device)
        return merge_sublattices(self.a.index_select(0, chains), self.b.index_select(0, chains))

    def _neighbour_sum(self, colour: int) -> Tensor:
        """Sum of the four neighbours (in the other sublattice) of every site of ``colour``."""
        other = self.b if colour == 0 else self.a
        nb = self._nb
        nb[:, 1:] = other[:, :-1]  # up   (row r - 1, same column)
        nb[:, :1] = other[:, -1:]
        nb[:, :-1] += other[:, 1:]  # down (row r + 1)
        nb[:, -1:] += other[:, :1]
        nb += other  # same row, same column
        # The fourth neighbour is column k - 1 on rows of parity `colour`, k + 1 on the others.
        e, o = (0, 1) if colour == 0 else (1, 0)
        nb[:, e::2, 1:] += other[:, e::2, :-1]
        nb[:, e::2, :1] += other[:, e::2, -1:]
        nb[:, o::2, :-1] += other[:, o::2, 1:]
        nb[:, o::2, -1:] += other[:, o::2, :1]
        return nb

    def _half_sweep(self, colour: int, measure: bool) -> Tensor | None:
        s = self.a if colour == 0 else self.b
        k = self._neighbour_sum(colour)
        k.mul_(s)  # k = s * (neighbour sum); dE = 2 (J k + h s)
        bonds = k.sum(dim=(1, 2), dtype=torch.int64) if measure else None
        r = uniform_int32(self._random, s.numel(), self.generator).view(s.shape)
        accept = self._b1
        if self.field == 0.0:
            if self.coupling < 0:
                k.neg_()
            # With f = ACCEPTANCE_FACTOR: accept k <= 0 with probability f, k = 2 with
            # f exp(-4 beta |J|), k = 4 with f exp(-8 beta |J|). The thresholds are ordered,
            # t4 <= t2 <= t0, so one uniform r decides all: accept iff k + 6 <= 2 level with
            # level = 3 [r <= t0] + [r <= t2] + [r <= t4] in {0, 3, 4, 5}.
            torch.le(r, self.t0, out=self._b1)
            torch.le(r, self.t2, out=self._b2)
            torch.le(r, self.t4, out=self._b3)
            level = self._tmp
            torch.mul(self._b1.view(torch.int8), 3, out=level)
            level += self._b2.view(torch.int8)
            level += self._b3.view(torch.int8)
            level.add_(level)
            k.add_(6)
            torch.le(k, level, out=accept)
        else:
            index = k.to(torch.int64)
            index.add_(4).div_(2, rounding_mode="floor")
            index.add_((s > 0).to(torch.int64), alpha=5)
            c = s.shape[0]
            threshold = torch.gather(self.table, 1, index.view(c, -1)).view(s.shape)
            torch.le(r, threshold, out=accept)
        flip = self._tmp
        torch.mul(accept.view(torch.int8), -2, out=flip)  # 0 or -2, and s ^ -2 == -s for s = +-1
        s.bitwise_xor_(flip)
        return bonds

    def advance(self, measure: bool = False) -> tuple[Tensor, Tensor, Tensor] | None:
        """One sweep (A then B). With ``measure``: the totals M, M_staggered and sum_bonds s_i s_j
        of the configuration before the sweep, each (C,) int64."""
        if measure:
            sum_a = self.a.sum(dim=(1, 2), dtype=torch.int64)
            sum_b = self.b.sum(dim=(1, 2), dtype=torch.int64)
        bonds = self._half_sweep(0, measure)  # every bond joins A and B: counted once here
        self._half_sweep(1, False)
        if measure:
            return sum_a + sum_b, sum_a - sum_b, bonds
        return None


# --------------------------------------------------------------------------------------------------
# Wolff with multi-spin coding
# --------------------------------------------------------------------------------------------------


def _lane_bit(n_lanes: int, device: torch.device | str) -> tuple[Tensor, Tensor]:
    """(word, bit) of every lane. Lane w*64 + 8j + b is bit 8b + j of word w: this order lets
    64 booleans laid out as (8 j, ..., 8 b) be packed with 8 shifts of int64 views."""
    lane = torch.arange(n_lanes, device=device)
    within = lane % 64
    return lane // 64, 8 * (within % 8) + within // 8


def _shifts(device: torch.device | str, n_dims: int) -> Tensor:
    """0..7 as int64, shaped (8, 1, ..., 1) to broadcast over ``n_dims`` trailing dims."""
    return torch.arange(8, dtype=torch.int64, device=device).view(8, *([1] * n_dims))


def _combine_bytes(v: Tensor) -> Tensor:
    """(8 j, ...) int64 whose bytes are 0/1 -> (...) int64 with byte b of v[j] at bit 8b + j."""
    return (v << _shifts(v.device, v.dim() - 1)).sum(dim=0)  # the bits are disjoint: sum == or


def pack_lanes(flags: Tensor) -> Tensor:
    """bool (W*64, *site) -> int64 (*site, W), lanes as bits (see ``_lane_bit``)."""
    n_lanes, site = flags.shape[0], flags.shape[1:]
    n_words = n_lanes // 64
    grid = flags.reshape(n_words, 8, 8, *site)  # (w, j, b, *site)
    order = (1, *range(3, 3 + len(site)), 0, 2)  # -> (j, *site, w, b)
    grid = grid.permute(order).contiguous()
    return _combine_bytes(grid.view(torch.int64).reshape(8, *site, n_words))


def _split_bytes(words: Tensor) -> Tensor:
    """(...) int64 -> (8 j, ..., 8 b) uint8: bit 8b + j of every word as a 0/1 byte."""
    planes = (words[None] >> _shifts(words.device, words.dim())) & _BYTE_ONES
    return planes.view(torch.uint8).reshape(8, *words.shape, 8)


def unpack_lanes(words: Tensor) -> Tensor:
    """int64 (*site, W) -> bool (W*64, *site): inverse of :func:`pack_lanes`."""
    site, n_words = words.shape[:-1], words.shape[-1]
    b = _split_bytes(words)  # (j, *site, w, b)
    order = (len(site) + 1, 0, len(site) + 2, *range(1, len(site) + 1))  # -> (w, j, b, *site)
    return b.permute(order).reshape(n_words * 64, *site).to(torch.bool)


def lane_counts(words: Tensor) -> Tensor:
    """int64 (G, K, W) -> (G, W*64) int64: the number of set bits of every lane over the K rows.

    Byte-parallel: (w >> j) & 0x0101.. has one 0/1 counter per byte, and up to 255 rows can be
    summed as int64 without a byte overflowing into the next.
    """
    g, k, w = words.shape
    pad = (-k) % 255
    if pad:
        words = torch.cat([words, words.new_zeros(g, pad, w)], dim=1)
    chunks = words.view(g, -1, 255, w)
    planes = (chunks[None] >> _shifts(words.device, 4)) & _BYTE_ONES  # (j, g, n_chunks, 255, w)
    partial = planes.sum(dim=3)  # bytes <= 255: no carries between the per-byte counters
    counts = partial.view(torch.uint8).view(8, g, -1, w, 8).sum(dim=2, dtype=torch.int64)
    return counts.permute(1, 2, 0, 3).reshape(g, w * 64)  # (g, w, j, b) -> lane order


class PackedWolff:
    """Wolff single-cluster updates of many ferromagnetic chains at once (bit-packed, see module).

    Parameters
    ----------
    spins : Tensor, (C, L, L) int8, +-1
        Initial configurations of the ferromagnet (copied). An antiferromagnet is simulated by the
        caller on the gauge-transformed configurations (``spins * stagger``).
    beta : Tensor, (C,) float64
    coupling : float
        |J| > 0.
    generator : torch.Generator
    """

    def __init__(self, spins: Tensor, beta: Tensor, coupling: float, generator: torch.Generator):
        self.device = spins.device
        self.lattice_size = size = spins.shape[-1]
        self.n_sites = size * size
        self.coupling = abs(float(coupling))
        self.generator = generator
        self._n_chains = spins.shape[0]
        idx = torch.arange(self.n_sites, device=self.device)
        y, x = idx // size, idx % size
        left, right = y * size + (x - 1) % size, y * size + (x + 1) % size
        up, down = ((y - 1) % size) * size + x, ((y + 1) % size) * size + x
        n = self.n_sites
        self._neighbours = torch.cat([left, right, up, down])  # (4N,), order of `bonds` below
        self._right_down = torch.cat([right, down])  # (2N,): the two bonds a site owns
        # bonds[d][i] for d = left, right, up, down as rows of the stacked (right; down) bonds:
        # i's left bond is its left neighbour's right bond, its up bond its upper neighbour's down
        self._bond_rows = torch.cat([left, idx, n + up, n + idx])
        self._load(spins.to(torch.int8), beta.to(device=self.device, dtype=torch.float64))

    @property
    def n_chains(self) -> int:
        return self._n_chains

    def _load(self, spins: Tensor, beta: Tensor) -> None:
        c, size = spins.shape[0], self.lattice_size
        self._n_chains = c
        n_words = (c + 63) // 64
        n_lanes = n_words * 64
        up = torch.zeros(n_lanes, size, size, dtype=torch.bool, device=self.device)
        up[:c] = spins > 0
        self.words = pack_lanes(up)  # (L, L, W): bit set = spin up
        self.beta = beta
        p = torch.zeros(n_lanes, dtype=torch.float64, device=self.device)
        p[:c] = -torch.expm1(-2.0 * self.coupling * beta)  # Wolff's bond probability
        t = acceptance_threshold(p).view(n_words, 8, 8)  # (w, j, b)
        # Thresholds laid out like the random numbers, (j, 2, L, L, w, b), so that the comparison
        # is elementwise and its booleans pack with pack-free int64 views.
        t = t.permute(1, 0, 2)[:, None, None, None]  # (j, 1, 1, 1, w, b)
        self._thresholds = t.expand(8, 2, size, size, n_words, 8).contiguous()
        self._accept = torch.empty(self._thresholds.shape, dtype=torch.bool, device=self.device)
        self._random = torch.empty(
            self._thresholds.numel() // 2, dtype=torch.int64, device=self.device
        )
        word, bit = _lane_bit(n_lanes, self.device)
        self._lane_word = word
        self._lane_value = torch.ones(n_lanes, dtype=torch.int64, device=self.device) << bit

    def keep(self, chains: Tensor) -> None:
        """Keep only the chains at positions ``chains`` (in that order)."""
        chains = chains.to(self.device)
        self._load(self.spins(chains), self.beta.index_select(0, chains))

    def spins(self, chains: Tensor | None = None) -> Tensor:
        """(C, L, L) int8 configurations (of the chains at positions ``chains``)."""
        up = unpack_lanes(self.words)[: self._n_chains]
        if chains is not None:
            up = up.index_select(0, chains.to(self.device))
        return up.to(torch.int8) * 2 - 1

    def _bonds(self) -> tuple[Tensor, Tensor]:
        """Active bonds (4N, W) to the left/right/up/down neighbour, and the (2N, W) masks of
        anti-aligned right and down neighbours."""
        n, n_words = self.n_sites, self.words.shape[-1]
        r = uniform_int32(self._random, self._thresholds.numel(), self.generator)
        torch.le(r.view(self._thresholds.shape), self._thresholds, out=self._accept)
        drawn = _combine_bytes(self._accept.view(torch.int64).view(8, 2 * n, n_words))
        s = self.words.view(n, n_words)
        differ = s.index_select(0, self._right_down).view(2, n, n_words) ^ s  # bit set: s_i != s_j
        owned = drawn.view(2, n, n_words) & ~differ  # a bond needs aligned spins
        bonds = owned.view(2 * n, n_words).index_select(0, self._bond_rows)
        return bonds, differ.view(2 * n, n_words)

    def advance(self, measure: bool = False) -> tuple[Tensor, Tensor, Tensor] | None:
        """One Wolff cluster flip in every chain.

        With ``measure``: the totals M and sum_bonds s_i s_j before the flip and the size of the
        flipped cluster, each (C,) int64.
        """
        n, n_words = self.n_sites, self.words.shape[-1]
        bonds, differ = self._bonds()
        n_lanes = n_words * 64
        seeds = torch.randint(0, n, (n_lanes,), generator=self.generator, device=self.device)
        lanes = torch.arange(self._n_chains, device=self.device)
        frontier = torch.zeros(n * n_words, dtype=torch.int64, device=self.device)
        # distinct bits per lane, so the sum is a bitwise or
        frontier.index_add_(
            0, seeds[lanes] * n_words + self._lane_word[lanes], self._lane_value[lanes]
        )
        frontier = frontier.view(n, n_words)
        cluster = frontier.clone()
        free = ~frontier
        reached = torch.empty(4, n, n_words, dtype=torch.int64, device=self.device)
        new = torch.empty(n, n_words, dtype=torch.int64, device=self.device)
        iteration = 0
        while True:
            iteration += 1
            # a site joins when a bonded neighbour is in the frontier and it is not yet in the cluster
            torch.index_select(frontier, 0, self._neighbours, out=reached.view(4 * n, n_words))
            reached.view(4 * n, n_words).bitwise_and_(bonds)
            torch.bitwise_or(reached[0], reached[1], out=new)
            new |= reached[2]
            new |= reached[3]
            new &= free
            # small clusters end in a few iterations; past 8, test every 4th (a sync each)
            if (iteration <= 8 or iteration % 4 == 0) and not bool(new.any()):
                break
            free ^= new
            cluster |= new
            frontier, new = new, frontier
        result = None
        if measure:
            words = torch.cat([cluster, self.words.view(n, n_words), differ]).view(4, n, n_words)
            counts = lane_counts(words)[:, : self._n_chains]
            # M = up - down; sum over the 2N bonds of s_i s_j = aligned - anti-aligned
            result = (2 * counts[1] - n, 2 * n - 2 * (counts[2] + counts[3]), counts[0])
        self.words.view(n, n_words).bitwise_xor_(cluster)
        return result
