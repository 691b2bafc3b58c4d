# NASH hill climbing (Elsken et al. 2017) as an incremental, resumable, parallel Make pipeline.
# Included by the top-level Makefile: `make search [VAR=value ...]`, run from the repository
# root. docs/SEARCH.md describes the settings, the targets and the files under RUN.
#
# Every output is a target written atomically; each group of settings is a stamp file under
# RUN/settings/ rewritten only when its value changes, so a rerun redoes exactly what a
# changed setting affects, nothing after a complete run, and only what is missing after an
# interruption (training resumes from its checkpoint).

# The pipeline's scripts lie next to this file: pipelines/ in a clone, PREFIX/share/nash when
# installed (`make -f PREFIX/share/nash/search.mk search` from any directory).
S_HERE := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# The makefile make was started with (the clone's Makefile, or this file given with -f).
S_MAKEFILE := $(abspath $(firstword $(MAKEFILE_LIST)))

# ---- settings ----
PROFILE ?= default
ifeq ($(PROFILE),default)
# about 10 minutes on a 2-core CPU on Fashion-MNIST, the final phase included (docs/SEARCH.md).
STEPS        ?= 3
NEIGH        ?= 3
MORPHS       ?= 3
EPOCHS_SEED  ?= 2
EPOCHS_NEIGH ?= 1
EPOCHS_FINAL ?= 3
LIMIT        ?= 10000
WIDTHS       ?= 16,32,64
# A budget for the steps asked for: 200,000 parameters for 3 steps, twice as many for every
# further step (a child of 3 morphisms is about twice its parent's size: 54,778 -> 117,706 in
# the default search's first step), so that a longer search is not left with nothing but
# skip-adds to try after step 3 (docs/SEARCH.md, "The parameter budget").
MAX_PARAMS   ?= $(shell awk -v s='$(STEPS)' 'BEGIN { if (s !~ /^[0-9]+$$/) s = 3; printf "%d", 200000 * 2 ^ (s > 3 ? s - 3 : 0) }')
# lower than the paper's 0.05: for one-epoch children on 10,000 images it gave the better final
# network (88.16% test against 87.56%, docs/SEARCH.md)
LR_START     ?= 0.02
else ifneq ($(filter paper cifar10,$(PROFILE)),)
# The paper's: n_steps 8, n_neigh 8, n_NM 5, 17 epochs per child, 20 of pretraining,
# 100 final, SGDR 0.05 -> 0, the whole training set. For a GPU. cifar10: the same on CIFAR-10
# (DATA=cifar10:DIR must be given).
STEPS        ?= 8
NEIGH        ?= 8
MORPHS       ?= 5
EPOCHS_SEED  ?= 20
EPOCHS_NEIGH ?= 17
EPOCHS_FINAL ?= 100
LIMIT        ?=
WIDTHS       ?= 32,64,128
MAX_PARAMS   ?=
else ifeq ($(PROFILE),cifar10-cpu)
# The whole CIFAR-10 training set (45,000 + 5,000 validation images) on a 2-core CPU within
# an hour, the final phase included (docs/SEARCH.md, "CIFAR-10"). DATA=cifar10:DIR.
STEPS        ?= 2
NEIGH        ?= 2
MORPHS       ?= 2
EPOCHS_SEED  ?= 3
EPOCHS_NEIGH ?= 1
EPOCHS_FINAL ?= 4
LIMIT        ?=
WIDTHS       ?= 16,32,64
MAX_PARAMS   ?= 150000
LR_START     ?= 0.05
endif
LR_START ?= 0.05
LR_END   ?= 0
DATA     ?= fashion-mnist
VAL      ?= 5000
BATCH    ?= 128
RUN      ?= runs/default
SEED     ?= 1
# The final phase: train the last step's best on the training split (train) or on training +
# validation images (all, the paper's); the snapshot ensemble of the steps' bests after that
# training (trained) or as they left the search (raw).
FINAL_ON ?= all
ENSEMBLE ?= trained
# Not recorded in any stamp (they do not change what is computed):
LAUNCH   ?=
BIN      ?=
DEVICE   ?= auto
THREADS  ?=

# ---- derived ----
S_RUN   := $(patsubst %/,%,$(RUN))
# BIN: installed or prebuilt programs; otherwise the pipeline builds them first (target all).
S_BIN   := $(if $(BIN),$(abspath $(BIN)),$(abspath $(BUILD))/bin)
S_ALL   := $(if $(BIN),,all)
S_SH     = NASH_BIN='$(S_BIN)' NASH_START='$(S_START)' $(SHELL) $(S_HERE)/search.sh
S_STEPS := $(shell seq 1 $(STEPS) 2>/dev/null)
S_KIDS  := $(shell seq 1 $(NEIGH) 2>/dev/null)
S_PREV  := 0 $(S_STEPS)
# zero-padded numbers: the random seed of step k, child j is SEED followed by k and j in
# three digits each (SEED 1, step 2, child 3: 1002003), so every choice derives from them.
S_PAD   := $(shell seq -f %03g 1 999 2>/dev/null)
s_pad    = $(if $(filter 0,$1),000,$(word $1,$(S_PAD)))
s_seed   = $(SEED)$(call s_pad,$1)$(call s_pad,$2)
S_LAST  := $(S_RUN)/step$(lastword 0 $(S_STEPS))/best.h5
S_BESTS := $(foreach k,$(S_STEPS),$(S_RUN)/step$k/best.h5)
# The snapshot ensemble: every step's best (the seed network when there are no steps), each
# trained as the final model is (ENSEMBLE=trained: RUN/snap/stepK.h5; the last step's is the
# final model itself) or as it left the search (raw).
S_SNAPS := $(foreach k,$(S_STEPS),$(S_RUN)/snap/step$k.h5)
ifeq ($(ENSEMBLE),raw)
S_ENSEMBLE := $(if $(S_BESTS),$(S_BESTS),$(S_RUN)/step0/best.h5)
else
S_ENSEMBLE := $(if $(S_SNAPS),$(S_SNAPS),$(S_RUN)/final.h5)
endif

S_TRAIN   = $(LAUNCH) $(S_BIN)/nash-train --data $(DATA) --lr $(LR_START):$(LR_END) --batch $(BATCH) \
            $(if $(LIMIT),--limit $(LIMIT)) --device $(DEVICE) $(if $(THREADS),--threads $(THREADS))
# The final phase's training (the final model and the trained snapshots).
S_FINAL   = $(S_TRAIN) --epochs $(EPOCHS_FINAL) --eval test $(if $(filter all,$(FINAL_ON)),--train-on all)
S_EVAL    = --data $(DATA) --device $(DEVICE) $(if $(THREADS),--threads $(THREADS))
S_MORPH   = $(S_BIN)/nash-morph -n $(MORPHS) $(if $(MAX_PARAMS),--max-params $(MAX_PARAMS))

# ---- stamps: evaluated when a search target is asked for (not by `make`, `make test`) ----
S_GOALS := $(filter search search-run $(S_RUN)/%,$(MAKECMDGOALS))
# A dry run (-n) or question (-q) must change nothing, stamps included.
S_DRY := $(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS)))
ifneq ($(S_GOALS),)
ifneq ($(words $(RUN)),1)
$(error search: RUN must be one path without spaces, not '$(RUN)')
endif
S_BAD := $(strip $(foreach v,STEPS NEIGH MORPHS EPOCHS_SEED EPOCHS_NEIGH EPOCHS_FINAL VAL BATCH SEED $(if $(LIMIT),LIMIT),\
	$(if $(shell echo '$($v)' | grep -Ex '[0-9]+'),,$v)))
ifneq ($(S_BAD),)
$(error search: $(S_BAD) must be non-negative integers)
endif
ifneq ($(word 999,$(S_STEPS))$(word 1000,$(S_KIDS)),)
$(error search: at most 998 STEPS and 999 NEIGH (seeds number them in three digits))
endif
ifeq ($(shell echo '$(SEED)' | grep -Ex '[0-9]{1,13}'),)
$(error search: SEED must be below 10^13 (the seeds of steps and children append 6 digits))
endif
ifeq ($(filter default paper cifar10 cifar10-cpu,$(PROFILE)),)
$(error search: PROFILE must be default, paper, cifar10 or cifar10-cpu, not '$(PROFILE)')
endif
ifneq ($(filter cifar10 cifar10-cpu,$(PROFILE)),)
ifeq ($(filter cifar10:% cifar10@%,$(DATA)),)
$(error search: PROFILE=$(PROFILE) needs DATA=cifar10:DIR, DIR holding CIFAR-10's binary version (data_batch_1.bin ... test_batch.bin), not DATA=$(DATA))
endif
endif
ifeq ($(filter train all,$(FINAL_ON)),)
$(error search: FINAL_ON must be train or all, not '$(FINAL_ON)')
endif
ifeq ($(filter trained raw,$(ENSEMBLE)),)
$(error search: ENSEMBLE must be trained or raw, not '$(ENSEMBLE)')
endif
S_START := $(shell date +%s)
# $(call s_stamp,NAME,CONTENT): RUN/settings/NAME holds CONTENT, rewritten only on change.
s_stamp = $(if $(S_DRY),,$(s_stamp_write))
# s_q: a single-quoted shell word holding any value ('\'' for every ').
s_q = '$(subst ','\'',$1)'
s_stamp_write = $(shell mkdir -p $(call s_q,$(S_RUN)/settings) && f=$(call s_q,$(S_RUN)/settings/$1) && v=$(call s_q,$(strip $2)) && \
	{ [ -f "$$f" ] && [ "$$(cat "$$f")" = "$$v" ] || { printf '%s\n' "$$v" >"$$f.tmp" && mv -f "$$f.tmp" "$$f"; }; })
S_COMMON = DATA=$(DATA) LIMIT=$(LIMIT) BATCH=$(BATCH) LR_START=$(LR_START) LR_END=$(LR_END) SEED=$(SEED)
$(call s_stamp,init,DATA=$(DATA) WIDTHS=$(WIDTHS) VAL=$(VAL) SEED=$(SEED))
$(call s_stamp,seed,EPOCHS_SEED=$(EPOCHS_SEED) $(S_COMMON))
$(call s_stamp,morph,MORPHS=$(MORPHS) MAX_PARAMS=$(MAX_PARAMS) SEED=$(SEED))
$(call s_stamp,neigh,EPOCHS_NEIGH=$(EPOCHS_NEIGH) $(S_COMMON))
$(call s_stamp,select,NEIGH=$(NEIGH))
$(call s_stamp,final,EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) STEPS=$(STEPS) $(S_COMMON))
$(call s_stamp,snap,EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) $(S_COMMON))
$(call s_stamp,steps,STEPS=$(STEPS))
$(call s_stamp,ensemble,ENSEMBLE=$(ENSEMBLE) STEPS=$(STEPS))
$(call s_stamp,run,PROFILE=$(PROFILE) STEPS=$(STEPS) NEIGH=$(NEIGH) MORPHS=$(MORPHS) MAX_PARAMS=$(MAX_PARAMS) \
	EPOCHS_SEED=$(EPOCHS_SEED) EPOCHS_NEIGH=$(EPOCHS_NEIGH) EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) ENSEMBLE=$(ENSEMBLE) LR_START=$(LR_START) \
	LR_END=$(LR_END) DATA=$(DATA) LIMIT=$(LIMIT) WIDTHS=$(WIDTHS) VAL=$(VAL) BATCH=$(BATCH) SEED=$(SEED) \
	LAUNCH=$(LAUNCH) DEVICE=$(DEVICE) THREADS=$(THREADS))
endif
S_SET = $(S_RUN)/settings
# The stamps are written while the makefile is read; in a dry run they may not exist yet.
$(S_SET)/%: ;

# ---- the targets ----

# First the Debian packages (tests/deps.sh installs what is missing when run as root; not
# needed with BIN), then the pipeline in a sub-make that gets the same settings and job slots.
search:
	@$(if $(BIN),test -x '$(S_BIN)/nash-train' || { echo 'search: BIN=$(BIN) holds no nash-train' >&2; exit 2; },tests/deps.sh)
	@$(MAKE) --no-print-directory -f $(S_MAKEFILE) search-run
search-run: $(S_RUN)/report.md
	@cat $(S_RUN)/summary.txt

# The seed network, then its pretraining (step 0's "best").
$(S_RUN)/step0/init.h5: $(S_SET)/init | $(S_ALL)
	@mkdir -p $(@D)
	@$(S_BIN)/nash-init --dataset $(DATA) --widths $(WIDTHS) --val $(VAL) --seed $(SEED) -o $@
$(S_RUN)/step0/best.h5: $(S_RUN)/step0/init.h5 $(S_SET)/seed | $(S_ALL)
	@$(S_SH) train --label seed $@ $< -- $(S_TRAIN) --epochs $(EPOCHS_SEED) --seed $(call s_seed,0,0)

# Hill-climbing step k: NEIGH children of step k-1's best, each its own target (make -j
# trains them in parallel), then the selection over the children and the parent.
define s_step
$(S_RUN)/step$1/child$2.h5: $(S_RUN)/step$(word $1,$(S_PREV))/best.h5 $(S_SET)/morph $(S_SET)/neigh | $(S_ALL)
	@$$(S_SH) train --child --label step$1/child$2 --morph '$$(S_MORPH) --seed $(call s_seed,$1,$2)' \
		$$@ $$< -- $$(S_TRAIN) --epochs $$(EPOCHS_NEIGH) --seed $(call s_seed,$1,$2)
endef
define s_select
$(S_RUN)/step$1/best.h5: $(foreach j,$(S_KIDS),$(S_RUN)/step$1/child$j.h5) \
		$(S_RUN)/step$(word $1,$(S_PREV))/best.h5 $(S_SET)/select | $(S_ALL)
	@$$(S_SH) select --step $1 --steps $$(STEPS) $$@ $$(filter %.h5,$$^)
endef
$(foreach k,$(S_STEPS),$(foreach j,$(S_KIDS),$(eval $(call s_step,$k,$j)))$(eval $(call s_select,$k)))

# Final training of the last step's best (cosine annealing over EPOCHS_FINAL, on the
# training split or, FINAL_ON=all, on training + validation images), tested.
$(S_RUN)/final.h5: $(S_LAST) $(S_SET)/final | $(S_ALL)
	@$(S_SH) train --label final $@ $< -- $(S_FINAL) --seed $(call s_seed,999,0)

# The trained snapshots: step K's best trained as the final model is, each its own target
# (make -j trains them in parallel, a rerun resumes them from their checkpoints). A step whose
# parent won the next step has the same best as that step: its snapshot is a link to the next
# step's; the last step's is a link to the final model. STEPS is a prerequisite (a snapshot
# that was a link may have to be trained now); a trained one whose parent and command are
# unchanged is kept.
define s_snap
$(S_RUN)/snap/step$1.h5: $(S_RUN)/step$1/best.h5 $(S_RUN)/step$2/best.h5 $(S_SET)/snap $(S_SET)/steps | $(S_ALL)
	@$$(S_SH) snap --label snap/step$1 --twin step$2.h5 $$@ $(S_RUN)/step$1/best.h5 $(S_RUN)/step$2/best.h5 \
		-- $$(S_FINAL) --seed $(call s_seed,999,$1)
endef
$(foreach k,$(filter-out $(lastword $(S_STEPS)),$(S_STEPS)),$(eval $(call s_snap,$k,$(word $(k),$(wordlist 2,999,$(S_STEPS))))))
ifneq ($(S_STEPS),)
$(S_RUN)/snap/step$(lastword $(S_STEPS)).h5: $(S_RUN)/final.h5 $(S_SET)/steps
	@$(S_SH) link $@ ../final.h5
endif

# The seed network on the test set, for comparison.
$(S_RUN)/step0/test.txt: $(S_RUN)/step0/best.h5 | $(S_ALL)
	@$(LAUNCH) $(S_BIN)/nash-train $(S_EVAL) --epochs 0 --eval test $< >$@.tmp 2>$(S_RUN)/step0/test.log || { rm -f $@.tmp; exit 1; }
	@mv -f $@.tmp $@

# The snapshot ensemble of every step's (trained) best, on the test set.
$(S_RUN)/ensemble.txt: $(S_ENSEMBLE) $(S_SET)/ensemble | $(S_ALL)
	@$(LAUNCH) $(S_BIN)/nash-ensemble $(S_EVAL) --eval test -o $(S_RUN)/ensemble.h5 $(filter %.h5,$^) >$@.tmp 2>$(S_RUN)/ensemble.log || { rm -f $@.tmp; exit 1; }
	@mv -f $@.tmp $@

# The report: tables per step, a plot, the best architecture drawn, the summary.
$(S_RUN)/report.md: $(S_RUN)/final.h5 $(S_RUN)/ensemble.txt $(S_RUN)/step0/test.txt $(S_BESTS) \
		$(S_SET)/steps $(S_SET)/ensemble $(S_SET)/final $(S_HERE)/report.sh $(S_HERE)/common.sh | $(S_ALL)
	@NASH_BIN='$(S_BIN)' $(SHELL) $(S_HERE)/report.sh $(S_RUN) $(STEPS) $(FINAL_ON) $(ENSEMBLE)

# Every target is renamed into place whole, so one that exists is complete: make must not
# delete it when stopped (a scheduler's SIGTERM may come just after a training wrote its model).
.PRECIOUS: $(S_RUN)/step0/init.h5 $(S_RUN)/step0/best.h5 $(S_RUN)/final.h5 $(S_BESTS) $(S_SNAPS) \
	$(foreach k,$(S_STEPS),$(foreach j,$(S_KIDS),$(S_RUN)/step$k/child$j.h5))

.PHONY: search search-run
