# `make ablation`: what each part of NASH contributes, as the paper's baselines measure it
# (docs/ABLATION.md). Included by pipelines/search.mk, whose templates and settings it uses.
#
# On the same data and budget, for each of ABL_SEEDS seeds (SEED, SEED+1, ...), in ABL_DIR/seedS/:
#   search/    (a) the search as configured;
#   random/    (b) NEIGH=1, KEEP_PARENT=no: one child per step, always taken (no model selection);
#   const-lr/  (c) the children trained at a constant LR_START (LR_NEIGH=LR_START:LR_START);
#              the pretraining and the final phase keep their cosine;
#   scratch/   (d) (a)'s last architecture with fresh weights (nash-init --like), trained as
#              the final phase is for ABL_SCRATCH epochs, tested;
#   seed-only/ (e) no search: the seed network as nash-init made it, untouched by morphisms,
#              trained as the final phase is for the training time of (a)'s whole search.
# (a), (b) and (c) of one seed start from the same pretrained seed network, ABL_DIR/seedS/step0:
# their pretraining is the same command, so it is trained once. Every search is the template
# instance `make search` uses, so all of them are targets of this one make graph: make -j
# overlaps them, a rerun after an interruption resumes all of them, a second run does nothing.

# ---- settings ----
ABL_SEEDS   ?= 3
# The epochs of (d): lineage (those along the lineage of (a)'s network: its pretraining, the
# steps whose child won, the final phase), budget (the paper's epoch_total = EPOCHS_NEIGH *
# NEIGH * STEPS + EPOCHS_FINAL: the search's whole budget spent on the one network) or a number.
ABL_SCRATCH ?= lineage

# ---- derived ----
S_ABL_SEEDS := $(call s_seeds,$(SEED),$(ABL_SEEDS))
S_ABL_HOMES := $(foreach s,$(S_ABL_SEEDS),$(S_ABL)/seed$s)
# the paper's epoch_total
S_ABL_BUDGET = $(shell echo $$(($(EPOCHS_NEIGH) * $(NEIGH) * $(STEPS) + $(EPOCHS_FINAL))))
# `nash-show --tsv` on stdin -> the epochs of its first model
S_EPOCHS_OF = awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($$i == "epochs") c = i } NR == 2 && c { print $$c }'

# $(call s_scratch_epochs,BEST): (d)'s epochs, as a shell word
s_scratch_epochs = $(if $(filter lineage,$(ABL_SCRATCH)),"$$($(S_BIN)/nash-show --tsv $1 | $(S_EPOCHS_OF) | \
	awk -v f=$(EPOCHS_FINAL) '{ print $$1 + f }')",$(if $(filter budget,$(ABL_SCRATCH)),$(S_ABL_BUDGET),$(ABL_SCRATCH)))

# $(call s_scratch,DIR,SEED,FROM,LABEL): (d) in DIR: the last step's best of the search in FROM
# with fresh weights, initialised as a seed network is (nash-init --like, seeded SEED), then
# trained as FROM's final model is, for ABL_SCRATCH epochs.
define s_scratch
$1/init.h5: $(call s_best,$3,$(lastword 0 $(S_STEPS))) $1/settings/scratch | $(S_ALL)
	@$$(S_BIN)/nash-init --help 2>/dev/null | grep -q -e '--like' || { echo "ablation: $$@: needs a nash-init with \
		--like (a model's network with fresh weights); $$(S_BIN)/nash-init has none" >&2; exit 1; }
	@mkdir -p $$(@D)
	@$$(S_BIN)/nash-init --like $$< --seed $2 -o $$@
$1/final.h5: $1/init.h5 $(call s_best,$3,$(lastword 0 $(S_STEPS))) $1/settings/scratch | $(S_ALL)
	@e=$$(call s_scratch_epochs,$(call s_best,$3,$(lastword 0 $(S_STEPS)))); \
		[ -n "$$$$e" ] || { echo "ablation: $$@: cannot read the epochs of $(call s_best,$3,$(lastword 0 $(S_STEPS)))" >&2; exit 1; }; \
		$$(S_SH) train --label $4final $$@ $1/init.h5 -- $$(call s_final,$$$$e) --seed $(call s_seed,$2,999,0)
$1/settings/scratch: ;
.PRECIOUS: $1/init.h5 $1/final.h5
endef

# (e)'s template, s_baseline, is in search.mk (`make baseline` uses it too).

# $(call s_ablate,SEED): the five variants of one seed
s_ablate = $(eval $(call s_seednet,$(S_ABL)/seed$1,$1,seed$1/))\
	$(call s_search,$(S_ABL)/seed$1/search,$1,$(S_ABL)/seed$1,$(NEIGH),$(S_LR_NEIGH),$(KEEP_PARENT),seed$1/search/)\
	$(call s_search,$(S_ABL)/seed$1/random,$1,$(S_ABL)/seed$1,1,$(S_LR_NEIGH),no,seed$1/random/)\
	$(call s_search,$(S_ABL)/seed$1/const-lr,$1,$(S_ABL)/seed$1,$(NEIGH),$(LR_START):$(LR_START),$(KEEP_PARENT),seed$1/const-lr/)\
	$(eval $(call s_scratch,$(S_ABL)/seed$1/scratch,$1,$(S_ABL)/seed$1/search,seed$1/scratch/))\
	$(eval $(call s_baseline,$(S_ABL)/seed$1/seed-only,$1,$(S_ABL)/seed$1/search,$(S_ABL)/seed$1,seed$1/seed-only/))

S_ABL_VARIANTS := search random const-lr
S_ABL_FINALS := $(foreach h,$(S_ABL_HOMES),$(h)/search/final.h5)

# The rules exist only when an ablation target is asked for: `make`, `make test` and
# `make search` read none of them.
ifneq ($(S_ABL_GOALS),)
ifneq ($(words $(ABL_DIR)),1)
$(error ablation: ABL_DIR must be one path without spaces, not '$(ABL_DIR)')
endif
ifeq ($(call s_positive,$(ABL_SEEDS)),)
$(error ablation: ABL_SEEDS must be a positive integer (how many seeds), not '$(ABL_SEEDS)')
endif
ifeq ($(call s_seeds_fit,$(SEED),$(ABL_SEEDS)),)
$(error ablation: SEED+ABL_SEEDS-1 must be below 10^13 (the seeds of steps and children append 6 digits))
endif
ifeq ($(filter lineage budget,$(ABL_SCRATCH))$(call s_positive,$(ABL_SCRATCH)),)
$(error ablation: ABL_SCRATCH must be lineage, budget or a number of epochs, not '$(ABL_SCRATCH)')
endif
$(foreach s,$(S_ABL_SEEDS),$(call s_ablate,$s))
$(foreach s,$(S_ABL_SEEDS),$(call s_seednet_stamps,$(S_ABL)/seed$s,$s)$(foreach v,$(S_ABL_VARIANTS),$(call s_search_stamps,$(S_ABL)/seed$s/$v))\
	$(call s_stamp,$(S_ABL)/seed$s/scratch,scratch,ABL_SCRATCH=$(ABL_SCRATCH)$(if $(filter budget,$(ABL_SCRATCH)), EPOCHS_NEIGH=$(EPOCHS_NEIGH) NEIGH=$(NEIGH)) \
		EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) STEPS=$(STEPS) $(call s_common,$s)))
$(call s_stamp,$(S_ABL),ablation,ABL_SEEDS=$(ABL_SEEDS) SEED=$(SEED) ABL_SCRATCH=$(ABL_SCRATCH))
$(call s_stamp,$(S_ABL),run,ABL_SEEDS=$(ABL_SEEDS) ABL_SCRATCH=$(ABL_SCRATCH) $(call s_run_record,$(NEIGH),$(SEED))$(if \
	$(LR_NEIGH), LR_NEIGH=$(LR_NEIGH))$(if $(filter no,$(KEEP_PARENT)), KEEP_PARENT=no))

# The ensemble of (a)'s final networks across the seeds, on the test set.
$(S_ABL)/ensemble.txt: $(S_ABL_FINALS) $(S_ABL)/settings/ablation | $(S_ALL)
	@$(S_SH) capture $@ $(S_ABL)/ensemble.log -- $(LAUNCH) $(S_BIN)/nash-ensemble $(S_EVAL) --eval test -o $(S_ABL)/ensemble.h5 $(S_ABL_FINALS)

# The table over the variants and seeds, the summary (nash-report ablation), the plot
# (pipelines/aggregate.sh, which runs gnuplot, then nash-report).
$(S_ABL)/report.md: $(foreach h,$(S_ABL_HOMES),$(foreach v,$(S_ABL_VARIANTS),$h/$v/report.md) $h/scratch/final.h5 $h/seed-only/final.h5) \
		$(S_ABL)/ensemble.txt $(S_ABL)/settings/ablation $(S_HERE)/aggregate.sh | $(S_ALL)
	@NASH_BIN='$(S_BIN)' NASH_START='$(S_START)' $(SHELL) $(S_HERE)/aggregate.sh ablation $(S_ABL) $(addprefix seed,$(S_ABL_SEEDS))
$(S_ABL)/settings/ablation $(S_ABL)/settings/run: ;
endif

# First the Debian packages, then the pipeline in a sub-make (as `make search`).
ablation:
	@$(if $(BIN),test -x '$(S_BIN)/nash-train' || { echo 'ablation: BIN=$(BIN) holds no nash-train' >&2; exit 2; },tests/deps.sh)
	@trap : TERM INT HUP; $(MAKE) --no-print-directory $(S_JOBS) -f $(S_MAKEFILE) ablation-run
ablation-run: $(S_ABL)/report.md
	@cat $(S_ABL)/summary.txt

.PHONY: ablation ablation-run
