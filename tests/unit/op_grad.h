/* Each op's gradients in the double reference (lib/backend/ref/ref_ops.h) against central
   finite differences of its forward, for the cases of op_cases.h: that the backwards compute
   the gradients of the forwards. The loss is L = sum(out * R) for a random R (the mean loss for
   softmax_xent); accumulated gradients start from PRE, which is subtracted before comparing,
   so a backward that overwrites instead of adding fails. Inputs are the op's own, drawn away
   from kinks and ties (where the forward has no derivative). */
#ifndef NASH_OP_GRAD_H
#define NASH_OP_GRAD_H

#include "backend/ref/ref_ops.h"
#include "ops_common.h"

#define FD_EPS 1e-6
#define FD_RTOL 1e-6
/* values perturbed per gradient: all of a small one, an even spread of a larger one */
#define FD_MAX_VALUES 400
#define PRE 0.5

/* The arguments of one forward. */
typedef struct Fd {
	const OpCase *c;
	const char *name;
	double *x, *x2, *x3;    /* inputs (add: a, b; concat: the parts) */
	double *w, *b, *beta;   /* parameters (bn: gamma in w; add: lambda in w) */
	int32_t *labels;
	double *out, *R;
	size_t n_out;
	double (*loss)(const struct Fd *f);
} Fd;

static double fd_dot(const Fd *f)
{
	double s = 0;
	for (size_t i = 0; i < f->n_out; i++)
		s += f->out[i] * f->R[i];
	return s;
}

/* The largest error seen as a fraction of its tolerance, and where (test_ops_grad.c prints it
   per op: how close the gradients come to failing). */
static double fd_worst_frac;
static char fd_worst_where[160];

/* Compares grad[n], the analytic gradient w.r.t. x[n], with central differences of the loss.
   Rounding makes the differences' absolute error ~1e-16*|L|/eps, so near-zero elements are
   judged against the largest gradient element. */
static void fd_check(Fd *f, const char *what, double *x, const double *grad, size_t n)
{
	double gmax = 0;
	for (size_t i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(grad[i]));
	size_t step = n > FD_MAX_VALUES ? (n + FD_MAX_VALUES - 1) / FD_MAX_VALUES : 1;
	int bad = 0;
	for (size_t i = 0; i < n && bad < 3; i += step) {
		double x0 = x[i];
		x[i] = x0 + FD_EPS;
		double lp = f->loss(f);
		x[i] = x0 - FD_EPS;
		double lm = f->loss(f);
		x[i] = x0;
		double fd = (lp - lm) / (2 * FD_EPS), atol = FD_RTOL * 1e-2 * fmax(gmax, 1);
		double frac = fabs(grad[i] - fd) / (atol + FD_RTOL * fabs(fd));
		if (frac > fd_worst_frac) {
			fd_worst_frac = frac;
			snprintf(fd_worst_where, sizeof fd_worst_where, "%s: %s[%zu]", f->name, what, i);
		}
		if (!check_close(grad[i], fd, atol, FD_RTOL)) {
			printf("#   %s: %s[%zu]: analytic %.12g, finite differences %.12g\n", f->name, what, i,
			       grad[i], fd);
			check_current_failed = 1;
			bad++;
		}
	}
}

static double *fd_rand(Pool *P, Rng *r, size_t n, double scale)
{
	double *p = hnew(P, n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = scale * rng_normal(r);
	return p;
}

static double *fd_fill(Pool *P, size_t n, double v)
{
	double *p = hnew(P, n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = v;
	return p;
}

/* an accumulated gradient less what it started from */
static double *unpre(double *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g[i] -= PRE;
	return g;
}

/* The loss's output and its weights R. */
static void fd_out(Pool *P, Rng *r, Fd *f, size_t n_out)
{
	f->n_out = n_out;
	f->out = fd_fill(P, n_out, 0);
	f->R = fd_rand(P, r, n_out, 1);
}

static double loss_conv(const Fd *f)
{
	const int *s = f->c->s;
	ref_conv_forward_d(f->out, f->x, f->w, f->b, s[0], s[1], s[2], s[3], s[4], s[5]);
	return fd_dot(f);
}

static void fd_conv(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], C = c->s[1], H = c->s[2], W = c->s[3], K = c->s[4], ks = c->s[5];
	int bias = c->flags & F_BIAS;
	Pool P = {.ctx = NULL};
	Fd f = {.c = c, .name = name, .loss = loss_conv};
	size_t nin = (size_t)N * C * H * W, nw = (size_t)K * C * ks * ks;
	f.x = fd_rand(&P, r, nin, 1);
	f.w = fd_rand(&P, r, nw, 1 / sqrt(C * ks * ks));
	f.b = bias ? fd_rand(&P, r, K, 1) : NULL;
	fd_out(&P, r, &f, (size_t)N * K * H * W);
	double *din = fd_fill(&P, nin, PRE), *dw = fd_fill(&P, nw, NAN), *db = fd_fill(&P, K, NAN);
	ref_conv_backward_d(din, dw, bias ? db : NULL, f.R, f.x, f.w, N, C, H, W, K, ks);
	fd_check(&f, "din", f.x, unpre(din, nin), nin);
	fd_check(&f, "dw", f.w, dw, nw);
	if (bias)
		fd_check(&f, "db", f.b, db, K);
	pool_free(&P);
}

static double loss_bn(const Fd *f)
{
	const int *s = f->c->s;
	ref_bn_forward_train_d(f->out, NULL, NULL, NULL, NULL, f->x, f->w, f->beta, s[0], s[1], s[2],
			       0.1, 1e-5);
	return fd_dot(f);
}

static void fd_bn(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], C = c->s[1], HW = c->s[2];
	Pool P = {.ctx = NULL};
	size_t n = (size_t)N * C * HW;
	Fd f = {.c = c, .name = name, .loss = loss_bn};
	f.x = fd_rand(&P, r, n, 2);
	f.w = fd_rand(&P, r, C, 1); /* gamma */
	f.beta = fd_rand(&P, r, C, 1);
	fd_out(&P, r, &f, n);
	double *mean = hnew(&P, C * sizeof *mean), *invstd = hnew(&P, C * sizeof *invstd);
	ref_bn_forward_train_d(f.out, mean, invstd, NULL, NULL, f.x, f.w, f.beta, N, C, HW, 0.1, 1e-5);
	double *din = fd_fill(&P, n, PRE), *dg = fd_fill(&P, C, NAN), *dbeta = fd_fill(&P, C, NAN);
	ref_bn_backward_d(din, dg, dbeta, f.R, f.x, mean, invstd, f.w, N, C, HW);
	fd_check(&f, "din", f.x, unpre(din, n), n);
	fd_check(&f, "dgamma", f.w, dg, C);
	fd_check(&f, "dbeta", f.beta, dbeta, C);
	pool_free(&P);
}

static double loss_relu(const Fd *f)
{
	ref_relu_forward_d(f->out, f->x, f->n_out);
	return fd_dot(f);
}

static void fd_relu(const OpCase *c, const char *name, Rng *r)
{
	size_t n = (size_t)c->s[0];
	Pool P = {.ctx = NULL};
	Fd f = {.c = c, .name = name, .loss = loss_relu};
	f.x = fd_rand(&P, r, n, 1);
	for (size_t i = 0; i < n; i++) /* away from the kink */
		f.x[i] += f.x[i] > 0 ? 1e-3 : -1e-3;
	fd_out(&P, r, &f, n);
	ref_relu_forward_d(f.out, f.x, n);
	double *din = fd_fill(&P, n, PRE);
	ref_relu_backward_d(din, f.R, f.out, n);
	fd_check(&f, "din", f.x, unpre(din, n), n);
	pool_free(&P);
}

static double loss_maxpool(const Fd *f)
{
	const int *s = f->c->s;
	ref_maxpool_forward_d(f->out, f->x, s[0], s[1], s[2], s[3], s[4]);
	return fd_dot(f);
}

/* random normals: no ties */
static void fd_maxpool(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], C = c->s[1], H = c->s[2], W = c->s[3], k = c->s[4];
	Pool P = {.ctx = NULL};
	Fd f = {.c = c, .name = name, .loss = loss_maxpool};
	size_t nin = (size_t)N * C * H * W;
	f.x = fd_rand(&P, r, nin, 1);
	fd_out(&P, r, &f, (size_t)N * C * (H / k) * (W / k));
	double *din = fd_fill(&P, nin, PRE);
	ref_maxpool_backward_d(din, f.R, f.x, N, C, H, W, k);
	fd_check(&f, "din", f.x, unpre(din, nin), nin);
	pool_free(&P);
}

static double loss_add(const Fd *f)
{
	const int *s = f->c->s;
	ref_add_forward_d(f->out, f->x, f->x2, f->w, s[0], s[1], s[2]);
	return fd_dot(f);
}

/* F_SELF: a and b one input, its two gradients summed in one buffer; the other flags are the
   float backends' */
static void fd_add(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], C = c->s[1], HW = c->s[2], self = c->flags & F_SELF;
	Pool P = {.ctx = NULL};
	size_t n = (size_t)N * C * HW;
	Fd f = {.c = c, .name = name, .loss = loss_add};
	f.x = fd_rand(&P, r, n, 1);
	f.x2 = self ? f.x : fd_rand(&P, r, n, 1);
	f.w = fd_rand(&P, r, C, 1); /* lambda */
	fd_out(&P, r, &f, n);
	double *da = fd_fill(&P, n, PRE), *db = self ? da : fd_fill(&P, n, PRE);
	double *dl = fd_fill(&P, C, NAN);
	ref_add_backward_d(da, db, dl, f.R, f.x, f.x2, f.w, N, C, HW);
	if (self) {
		fd_check(&f, "da + db", f.x, unpre(da, n), n);
	} else {
		fd_check(&f, "da", f.x, unpre(da, n), n);
		fd_check(&f, "db", f.x2, unpre(db, n), n);
	}
	fd_check(&f, "dlambda", f.w, dl, C);
	pool_free(&P);
}

static double loss_concat(const Fd *f)
{
	const int *s = f->c->s;
	double *parts[3] = {f->x, f->x2, f->x3};
	int Cout = s[2] + s[3] + s[4];
	for (int i = 0, off = 0; i < 3; off += s[2 + i], i++)
		if (s[2 + i])
			ref_concat_forward_d(f->out, parts[i], s[0], s[2 + i], Cout, off, s[1]);
	return fd_dot(f);
}

static void fd_concat(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], HW = c->s[1], Cout = c->s[2] + c->s[3] + c->s[4];
	Pool P = {.ctx = NULL};
	Fd f = {.c = c, .name = name, .loss = loss_concat};
	double **parts[3] = {&f.x, &f.x2, &f.x3};
	for (int i = 0; i < 3; i++)
		*parts[i] = fd_rand(&P, r, (size_t)N * c->s[2 + i] * HW, 1);
	fd_out(&P, r, &f, (size_t)N * Cout * HW);
	for (int i = 0, off = 0; i < 3; off += c->s[2 + i], i++) {
		if (!c->s[2 + i])
			continue;
		size_t nin = (size_t)N * c->s[2 + i] * HW;
		double *din = fd_fill(&P, nin, PRE);
		char what[32];
		ref_concat_backward_d(din, f.R, N, c->s[2 + i], Cout, off, HW);
		snprintf(what, sizeof what, "din (part %d)", i + 1);
		fd_check(&f, what, *parts[i], unpre(din, nin), nin);
	}
	pool_free(&P);
}

static double loss_gap(const Fd *f)
{
	const int *s = f->c->s;
	ref_gap_forward_d(f->out, f->x, s[0], s[1], s[2]);
	return fd_dot(f);
}

static void fd_gap(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], C = c->s[1], HW = c->s[2];
	Pool P = {.ctx = NULL};
	size_t nin = (size_t)N * C * HW;
	Fd f = {.c = c, .name = name, .loss = loss_gap};
	f.x = fd_rand(&P, r, nin, 1);
	fd_out(&P, r, &f, (size_t)N * C);
	double *din = fd_fill(&P, nin, PRE);
	ref_gap_backward_d(din, f.R, N, C, HW);
	fd_check(&f, "din", f.x, unpre(din, nin), nin);
	pool_free(&P);
}

static double loss_dense(const Fd *f)
{
	const int *s = f->c->s;
	ref_dense_forward_d(f->out, f->x, f->w, f->b, s[0], s[1], s[2]);
	return fd_dot(f);
}

static void fd_dense(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], I = c->s[1], O = c->s[2], bias = c->flags & F_BIAS;
	Pool P = {.ctx = NULL};
	size_t nin = (size_t)N * I, nw = (size_t)O * I;
	Fd f = {.c = c, .name = name, .loss = loss_dense};
	f.x = fd_rand(&P, r, nin, 1);
	f.w = fd_rand(&P, r, nw, 1);
	f.b = bias ? fd_rand(&P, r, O, 1) : NULL;
	fd_out(&P, r, &f, (size_t)N * O);
	double *din = fd_fill(&P, nin, PRE), *dw = fd_fill(&P, nw, NAN), *db = fd_fill(&P, O, NAN);
	ref_dense_backward_d(din, dw, bias ? db : NULL, f.R, f.x, f.w, N, I, O);
	fd_check(&f, "din", f.x, unpre(din, nin), nin);
	fd_check(&f, "dw", f.w, dw, nw);
	if (bias)
		fd_check(&f, "db", f.b, db, O);
	pool_free(&P);
}

/* the mean loss: what dlogits is the gradient of (the smoothing is in hundredths) */
static double loss_softmax_xent(const Fd *f)
{
	double stats[3] = {0};
	ref_softmax_xent_d(NULL, stats, f->x, f->labels, f->c->s[0], f->c->s[1], f->c->s[2] / 100.0);
	return stats[0] / f->c->s[0];
}

/* F_BAD_LABEL: a NaN loss has no gradient to check */
static void fd_softmax_xent(const OpCase *c, const char *name, Rng *r)
{
	int N = c->s[0], K = c->s[1];
	if (c->flags & F_BAD_LABEL)
		return;
	Pool P = {.ctx = NULL};
	Fd f = {.c = c, .name = name, .loss = loss_softmax_xent};
	f.labels = hnew(&P, N * sizeof *f.labels);
	for (int i = 0; i < N; i++)
		f.labels[i] = (int32_t)rng_below(r, K);
	f.x = fd_rand(&P, r, (size_t)N * K, 2);
	double *dl = fd_fill(&P, (size_t)N * K, NAN), stats[3] = {0};
	ref_softmax_xent_d(dl, stats, f.x, f.labels, N, K, c->s[2] / 100.0);
	fd_check(&f, "dlogits", f.x, dl, (size_t)N * K);
	pool_free(&P);
}

#endif
