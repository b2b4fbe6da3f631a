"""The standard normal CDF and its inverse (scipy.special's ndtr and ndtri) as our own kernels.

Line-for-line ports of the Cephes code scipy 1.17.1 runs (xsf, include/xsf/cephes/ndtri.h and
ndtr.h at xsf 0d0a593f): the same coefficients, branches and order of operations, so they give
scipy's doubles bit for bit, compiled or as plain Python (tests/test_normal.py). Calling them
needs no `import scipy.special` (~0.2 s), and numba compiles them into the calling kernel
(LLVM may inline them) where a cython_special call goes through a function pointer.
"""

from __future__ import annotations

import math

from ..jit import jit

# ndtri: w + w^3 R(w^2)/S(w^2) for |p - 0.5| <= 0.5 - exp(-2) ...
_NDTRI_P0 = (
    -5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
    1.39312609387279679503E1, -1.23916583867381258016E0,
)
_NDTRI_Q0 = (  # leading 1.0 implied (p1evl)
    1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1, -2.25462687854119370527E2,
    2.00260212380060660359E2, -8.20372256168333339912E1, 1.59056225126211695515E1, -1.18331621121330003142E0,
)
# ... and z - log(z)/z - P(1/z)/(z Q(1/z)) with z = sqrt(-2 log p) in [2, 8) ...
_NDTRI_P1 = (
    4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
    4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
    -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4,
)
_NDTRI_Q1 = (
    1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
    1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
    -3.80806407691578277194E-2, -9.33259480895457427372E-4,
)
# ... or z >= 8 (p below exp(-32)).
_NDTRI_P2 = (
    3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
    1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
    3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9,
)
_NDTRI_Q2 = (
    6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0, 2.16236993594496635890E-1,
    1.34204006088543189037E-2, 3.28014464682127739104E-4, 2.89247864745380683936E-6, 6.79019408009981274425E-9,
)
_EXP_M2 = 0.13533528323661269189  # exp(-2), where ndtri switches to the tail formula
_SQRT2PI = 2.50662827463100050242E0  # sqrt(2 pi) (Cephes calls it SQRTPI)

# erfc(x) = exp(-x^2) P(x)/Q(x) for 1 <= x < 8, exp(-x^2) R(x)/S(x) above; erf(x) = x T(x^2)/U(x^2), |x| <= 1.
_ERFC_P = (
    2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
    4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
    9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2,
)
_ERFC_Q = (
    1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2, 9.75708501743205489753E2,
    1.82390916687909736289E3, 2.24633760818710981792E3, 1.65666309194161350182E3, 5.57535340817727675546E2,
)
_ERFC_R = (
    5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
    6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0,
)
_ERFC_S = (
    2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
    1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0,
)
_ERF_T = (
    9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3, 7.00332514112805075473E3,
    5.55923013010394962768E4,
)
_ERF_U = (
    3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3, 2.26290000613890934246E4,
    4.92673942608635921086E4,
)
_MAXLOG = 7.09782712893383996732E2  # log(DBL_MAX): exp(-x^2) underflows beyond it
_SQRT1_2 = 0.70710678118654752440  # C's M_SQRT1_2


def polevl_python(x, coefs):
    """coefs[0] x^n + ... + coefs[n] by Horner's rule, in Cephes polevl's order."""
    ans = coefs[0]
    for i in range(1, len(coefs)):
        ans = ans * x + coefs[i]
    return ans


def p1evl_python(x, coefs):
    """x^n + coefs[0] x^(n-1) + ... + coefs[n-1] (leading 1 implied), in Cephes p1evl's order."""
    ans = x + coefs[0]
    for i in range(1, len(coefs)):
        ans = ans * x + coefs[i]
    return ans


def ndtri_python(p):
    """Phi^-1(p): -inf at 0, +inf at 1, NaN outside [0, 1] or for NaN (scipy.special.ndtri)."""
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p < 0.0 or p > 1.0:
        return math.nan
    if math.isnan(p):  # Cephes lets NaN run through, then flips its sign with the tail's -x
        return -p
    negate = True
    y = p
    if y > 1.0 - _EXP_M2:
        y = 1.0 - y
        negate = False
    if y > _EXP_M2:
        y = y - 0.5
        y2 = y * y
        x = y + y * (y2 * polevl(y2, _NDTRI_P0) / p1evl(y2, _NDTRI_Q0))
        return x * _SQRT2PI
    x = math.sqrt(-2.0 * math.log(y))
    x0 = x - math.log(x) / x
    z = 1.0 / x
    if x < 8.0:  # y > exp(-32)
        x1 = z * polevl(z, _NDTRI_P1) / p1evl(z, _NDTRI_Q1)
    else:
        x1 = z * polevl(z, _NDTRI_P2) / p1evl(z, _NDTRI_Q2)
    x = x0 - x1
    return -x if negate else x


def erf_small_python(x):
    """erf(x) for |x| <= 1: x T(x^2)/U(x^2), Cephes erf's own branch."""
    z = x * x
    return x * polevl(z, _ERF_T) / p1evl(z, _ERF_U)


def erfc_large_python(a):
    """erfc(a) for |a| >= 1 (or infinite), Cephes erfc past its `1 - erf(a)` branch."""
    x = -a if a < 0.0 else a
    z = -a * a
    if z < -_MAXLOG:
        return 2.0 if a < 0.0 else 0.0
    z = math.exp(z)
    if x < 8.0:
        p = polevl(x, _ERFC_P)
        q = p1evl(x, _ERFC_Q)
    else:
        p = polevl(x, _ERFC_R)
        q = p1evl(x, _ERFC_S)
    y = (z * p) / q
    if a < 0.0:
        y = 2.0 - y
    if y != 0.0:
        return y
    return 2.0 if a < 0.0 else 0.0


def erf_python(x):
    """The error function, Cephes erf (scipy.special.erf)."""
    if math.isnan(x):
        return math.nan
    if x < 0.0:  # -erf(-x)
        return -(1.0 - erfc_large(-x)) if -x > 1.0 else -erf_small(-x)
    if x > 1.0:
        return 1.0 - erfc_large(x)
    return erf_small(x)


def erfc_python(a):
    """The complementary error function, Cephes erfc (scipy.special.erfc)."""
    if math.isnan(a):
        return math.nan
    if abs(a) < 1.0:
        return 1.0 - erf_small(a)  # Cephes' 1 - erf(a); erf is odd bit for bit on |a| < 1
    return erfc_large(a)


def ndtr_python(a):
    """Phi(a), the standard normal CDF: (1 + erf(a/sqrt 2))/2 near 0, erfc in the tails (scipy.special.ndtr)."""
    if math.isnan(a):
        return math.nan
    x = a * _SQRT1_2
    z = abs(x)
    if z < 1.0:
        return 0.5 + 0.5 * erf_small(x)
    y = 0.5 * erfc_large(z)
    if x > 0.0:
        y = 1.0 - y
    return y


def ndtri_column_python(values):
    """Uniforms to normal scores, in place."""
    for i in range(values.shape[0]):
        values[i] = ndtri(values[i])


def ndtr_column_python(values):
    """Normal scores to uniforms, in place."""
    for i in range(values.shape[0]):
        values[i] = ndtr(values[i])


polevl = jit(polevl_python)
p1evl = jit(p1evl_python)
erf_small = jit(erf_small_python)
erfc_large = jit(erfc_large_python)
erf = jit(erf_python)
erfc = jit(erfc_python)
ndtri = jit(ndtri_python)
ndtr = jit(ndtr_python)
ndtri_column = jit(ndtri_column_python)
ndtr_column = jit(ndtr_column_python)
