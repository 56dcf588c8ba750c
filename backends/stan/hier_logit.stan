// Hierarchical Bayesian logistic regression (ppl-compare; canonical model in backends/spec.py).
//
//   logit P(y[i] = 1) = alpha + X_site[site[i]] . beta_site + X_worker[i] . beta_worker[site[i]]
//   beta_worker[j, k] ~ Normal(0, sigma_worker);  beta_site[k] ~ Normal(0, sigma_site)
//   sigma_worker ~ HalfCauchy(sigma_worker_scale); sigma_site ~ HalfCauchy(sigma_site_scale)
//   alpha ~ Normal(0, alpha_scale)
//
// Both parameterisations live in this one program, chosen by the data flag `noncentered`:
// the unused block of parameters has zero rows, so one executable serves both and no
// configuration (prior scales are data too) ever forces a recompile.
//   noncentered = 0: beta_worker_centered (J x K_w) is the parameter, beta_worker its copy;
//   noncentered = 1: z_worker (J x K_w) ~ Normal(0, 1), beta_worker = sigma_worker * z_worker.
// Every density is added with `target += *_lpdf(...)` so that all normalising constants are
// kept: the model block equals spec.log_joint exactly (tests compare the two).
// The likelihood is vectorised per worksite (see transformed data).
// Written in the array syntax accepted by both stanc 2.27 (CmdStan) and Stan 2.35 (PyStan 3).
data {
  int<lower=0> N;                          // workers
  int<lower=1> J;                          // worksites
  int<lower=0> K_s;                        // site-level features
  int<lower=0> K_w;                        // worker-level features
  array[N] int<lower=0, upper=1> y;        // signed a card
  array[N] int<lower=1, upper=J> site;     // worksite of each worker (1-based)
  matrix[J, K_s] X_site;
  matrix[N, K_w] X_worker;
  real<lower=0> alpha_scale;
  real<lower=0> sigma_site_scale;
  real<lower=0> sigma_worker_scale;
  int<lower=0, upper=1> noncentered;
}
transformed data {
  // Workers sorted by worksite, so that each worksite's rows form one contiguous block and
  // its likelihood is one bernoulli_logit_glm call (fused analytic gradients; about 4x faster
  // than indexing beta_worker[site] per worker).  The order of the sum does not matter.
  array[N] int order = sort_indices_asc(site);
  array[N] int y_sorted = y[order];
  matrix[N, K_w] X_worker_sorted = X_worker[order];
  array[J] int seg_len = rep_array(0, J);  // workers of each worksite
  array[J] int seg_start;                  // first row of each worksite's block
  for (i in 1:N) {
    seg_len[site[i]] += 1;
  }
  seg_start[1] = 1;
  for (j in 2:J) {
    seg_start[j] = seg_start[j - 1] + seg_len[j - 1];
  }
}
parameters {
  real alpha;
  vector[K_s] beta_site;
  real<lower=0> sigma_site;
  real<lower=0> sigma_worker;
  matrix[(1 - noncentered) * J, K_w] beta_worker_centered;
  matrix[noncentered * J, K_w] z_worker;
}
transformed parameters {
  matrix[J, K_w] beta_worker;
  if (noncentered) {
    beta_worker = sigma_worker * z_worker;
  } else {
    beta_worker = beta_worker_centered;
  }
}
model {
  target += normal_lpdf(alpha | 0, alpha_scale);
  // half-Cauchy = Cauchy folded at 0: density doubled, hence + log(2)
  target += cauchy_lpdf(sigma_site | 0, sigma_site_scale) + log2();
  target += cauchy_lpdf(sigma_worker | 0, sigma_worker_scale) + log2();
  target += normal_lpdf(beta_site | 0, sigma_site);
  if (noncentered) {
    target += std_normal_lpdf(to_vector(z_worker));
  } else {
    target += normal_lpdf(to_vector(beta_worker_centered) | 0, sigma_worker);
  }
  {
    // logit = (alpha + X_site[j] . beta_site) + X_worker[i] . beta_worker[j] for worksite j:
    // one GLM per worksite, the site-level part as its intercept.
    vector[J] eta_site = alpha + X_site * beta_site;
    for (j in 1:J) {
      if (seg_len[j] > 0) {
        int first = seg_start[j];
        int last = first + seg_len[j] - 1;
        target += bernoulli_logit_glm_lpmf(y_sorted[first:last] |
                                           block(X_worker_sorted, first, 1, seg_len[j], K_w),
                                           eta_site[j], beta_worker[j]');
      }
    }
  }
}
