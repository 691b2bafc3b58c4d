# NASH hill climbing (Elsken et al. 2017) as an incremental, resumable, parallel Make pipeline.
# Included by the top-level Makefile: `make search [VAR=value ...]`, run from the repository
# root. docs/SEARCH.md describes the settings, the targets and the files under RUN.
#
# Every output is a target written atomically; each group of settings is a stamp file under
# RUN/settings/ rewritten only when its value changes, so a rerun redoes exactly what a
# changed setting affects, nothing after a complete run, and only what is missing after an
# interruption (training resumes from its checkpoint).
#
# One search is a set of rules made from templates (s_seednet, s_search below) for its
# directory, so that several searches are targets of one make graph: RUNS=N repeated searches
# (RUN/run1 .. RUN/runN) and the ablation study (pipelines/ablation.mk, `make ablation`), which
# `make -j` overlaps and one rerun resumes after an interruption.

# The pipeline's scripts lie next to this file: pipelines/ in a clone, PREFIX/share/nash when
# installed (`make -f PREFIX/share/nash/search.mk search` from any directory).
S_HERE := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# The makefile make was started with (the clone's Makefile, or this file given with -f).
S_MAKEFILE := $(abspath $(firstword $(MAKEFILE_LIST)))

# ---- settings ----
# `make ablation` (pipelines/ablation.mk) runs several searches per seed: unless PROFILE is
# given it has a profile of its own, sized for a 2-core CPU, and ensembles the steps' bests as
# they left each search (no snapshot trainings).
ABL_DIR ?= runs/ablation
S_ABL   := $(patsubst %/,%,$(ABL_DIR))
S_ABL_GOALS := $(filter ablation ablation-run $(S_ABL)/%,$(MAKECMDGOALS))
ifneq ($(S_ABL_GOALS),)
PROFILE  ?= ablation
ENSEMBLE ?= raw
endif
PROFILE ?= default
ifeq ($(PROFILE),default)
# Fashion-MNIST on a 2-core CPU in about 10 minutes, the final phase included, every core used
# (two single-thread trainings at once), the whole training set for every training (no LIMIT):
# docs/SEARCH.md, "The default profile", has what was tried and what it gave.
STEPS        ?= 3
NEIGH        ?= 2
MORPHS       ?= 2
EPOCHS_SEED  ?= 2
EPOCHS_NEIGH ?= 1
EPOCHS_FINAL ?= 4
LIMIT        ?=
WIDTHS       ?= 16,32,64
# The children's parameter budget, 4 times the seed network's (54,778 -> 219,112 on
# Fashion-MNIST): the grown networks of 3 steps stay within a few times the seed's training
# cost (docs/SEARCH.md, "The parameter budget").
MAX_PARAMS   ?= 4x
# A child costs at most 4 times its parent's multiply-adds per image: above every winner of the
# measured default searches (3.36 times its parent at most, in step 1 from the small seed
# network; with the cap they choose the same networks), below the child at 9.26 that made a
# BUDGET=25m search 38% late (docs/SEARCH.md, "The growth cap").
MAX_GROWTH   ?= 4
# the seed network's pretraining and the final phase at the paper's 0.05; the children restart
# at 0.02 (SGDR): at 0.05 a one-epoch child is knocked far below its parent (docs/SEARCH.md,
# "Warmup")
LR_START     ?= 0.05
LR_NEIGH     ?= 0.02:0
# the mirror's view in every evaluation: +0.27 points of test accuracy ("Training recipe")
TTA          ?= flip
# the steps' bests as they left the search: no snapshot trainings, so that the final training
# has every core (THREADS_ALONE)
ENSEMBLE     ?= raw
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
# the paper's seed network, named (nash-init's default: the same file)
ARCH         ?= paper
MAX_PARAMS   ?=
MAX_GROWTH   ?=
else ifeq ($(PROFILE),cifar10-cpu)
# The whole CIFAR-10 training set (45,000 + 5,000 validation images) on a 2-core CPU within
# an hour, the final phase included (docs/SEARCH.md, "CIFAR-10"). DATA=cifar10:DIR. The
# stronger seed network (groups: 645 images/s on 2 threads at 32,64,128, against 2,560 for
# the paper's at 16,32,64), a short search and most of its time in the final phase: on
# Fashion-MNIST the seconds given to training beat those given to children (docs/ABLATION.md).
STEPS        ?= 2
NEIGH        ?= 2
MORPHS       ?= 2
EPOCHS_SEED  ?= 4
EPOCHS_NEIGH ?= 1
EPOCHS_FINAL ?= 12
LIMIT        ?=
ARCH         ?= groups
WIDTHS       ?= 32,64,128
MAX_PARAMS   ?= 3x
# the default profile's growth cap, for as many morphisms per child (docs/SEARCH.md, "The
# growth cap")
MAX_GROWTH   ?= 4
LR_START     ?= 0.05
# as the default profile: children restart at 0.02, every evaluation sees the mirror too, the
# steps' bests ensembled as they left the search (the final training has every core)
LR_NEIGH     ?= 0.02:0
TTA          ?= flip
ENSEMBLE     ?= raw
else ifeq ($(PROFILE),ablation)
# `make ablation`'s searches on Fashion-MNIST: five variants on each of ABL_SEEDS seeds
# within an hour on a 2-core CPU (docs/ABLATION.md, "Cost").
STEPS        ?= 2
NEIGH        ?= 3
MORPHS       ?= 3
EPOCHS_SEED  ?= 2
EPOCHS_NEIGH ?= 1
EPOCHS_FINAL ?= 2
# a fifth of Fashion-MNIST's training images (other data: all of them)
LIMIT        ?= $(if $(filter fashion-mnist,$(DATA)),10000)
WIDTHS       ?= 16,32,64
MAX_PARAMS   ?= 4x
# 3 morphisms per child: twice the default profile's factor per morphism (4 for 2), above
# every child of the searches measured with 3 (6.68 times its parent at most; docs/SEARCH.md,
# "The growth cap")
MAX_GROWTH   ?= 8
LR_START     ?= 0.02
ABL_SEEDS    ?= 5
endif
LR_START ?= 0.05
LR_END   ?= 0
DATA     ?= fashion-mnist
# The seed network (nash-init --arch): empty, nash-init's default, the paper's; groups.
ARCH     ?=
# The validation images held out of the training set; empty: nash-init's default, 5,000 but at
# most a tenth of the training set (at least one image per class); P% for a fraction.
VAL      ?=
BATCH    ?= 128
RUN      ?= runs/default
SEED     ?= 1
# BUDGET=10m (s, m or h): as many steps as fit in that wall time with the final phase after
# them (predicted from the times measured so far); STEPS, when given on the command line, is
# then the most. PATIENCE=K: stop after K steps that together raised the best validation
# accuracy by less than MIN_GAIN; BUDGET or STEPS is the most. Either: one search (RUNS=1), run
# by pipelines/search.sh climb, which records the steps reached and why in RUN/climb.txt.
BUDGET   ?=
PATIENCE ?=
MIN_GAIN ?= 0.001
# MAX_GROWTH=G: a child costs at most G times its parent's multiply-adds per image (nash-morph
# --max-macs; G of 1 or more, empty: no cap); with BUDGET, the final phase after the next step
# is reserved for a network G times as costly (a quarter more without a cap).
MAX_GROWTH ?=
# TOLERANCE=T: a step's selection takes, among the models within T of the best validation
# accuracy, the one with the fewest multiply-adds per image (nash-select --tolerance; empty: 0).
# With the parent a candidate (KEEP_PARENT=yes), a child must beat it by more than T to win.
TOLERANCE ?=
# RUNS=N: N searches with the seeds SEED .. SEED+N-1 in RUN/run1 .. RUN/runN, and a report
# over them; RUNS=1 is one search in RUN itself.
RUNS     ?= 1
# The children's learning rate, START[:END] (default LR_START:LR_END: SGDR, a cosine restarted
# for every child); LR_NEIGH=A:A trains them at a constant A. The seed network's pretraining
# and the final phase keep LR_START:LR_END.
LR_NEIGH ?=
# Whether a step's parent competes with its children (yes: hill climbing, the parent stays
# when no child beats it) or the best child always replaces it (no; with NEIGH=1 the search
# is a random walk of morphisms: no model selection). The parent is kept only when every
# child failed.
KEEP_PARENT ?= yes
# The final phase: train the last step's best on the training split (train) or on training +
# validation images (all, the paper's); the snapshot ensemble of the steps' bests after that
# training (trained) or as they left the search (raw).
FINAL_ON ?= all
ENSEMBLE ?= trained
# The training recipe of every training of the search (docs/SEARCH.md, "The training recipe"):
# nash-train --label-smoothing SMOOTHING, --ema EMA (the weights' moving average, evaluated and
# kept), --tta TTA (none, flip, flip-shift: the validation and test figures, so selection
# sees them too). Empty: nash-train's default (off); the profiles above set them.
SMOOTHING ?=
EMA      ?=
TTA      ?=
# Not recorded in any stamp: they change how a result is computed and, DEVICE and THREADS, its
# last bits (docs/SEARCH.md, "Threads and results"), not what a rerun must redo.
LAUNCH   ?=
BIN      ?=
DEVICE   ?= auto
THREADS  ?=
# The threads of a training that runs alone: the seed network's pretraining (everything waits
# for it), the final training when no snapshot trains beside it (ENSEMBLE=raw or one step),
# `make baseline`'s. Empty: THREADS. `make search` and `make baseline` that choose the split
# themselves (no -j, no THREADS given) set it to every core.
THREADS_ALONE ?=
# The threads a group of trainings that run at once shares: a step's children, the final
# training with the trained snapshots beside it; each gets THREADS_SHARED / (the group's
# trainings, at most THREADS_SHARED), at least 1. Empty: THREADS each. `make search` that
# chooses the split itself sets it to every core, so that a step of 2 children on 16 cores
# trains each on 8 threads, not on 1 with 14 cores idle.
THREADS_SHARED ?=
# ---- derived ----
S_RUN   := $(patsubst %/,%,$(RUN))
# BIN: installed or prebuilt programs; otherwise the pipeline builds them first (target all).
S_BIN   := $(if $(BIN),$(abspath $(BIN)),$(abspath $(BUILD))/bin)
S_ALL   := $(if $(BIN),,all)
# The trainings start with the thread settings nash-train gives itself (tools/thread_env.h:
# OpenMP threads that wait sleep, OpenBLAS starts no threads of its own), so that none
# re-executes itself to set them: 11 ms of CPU a start, most of it the OpenBLAS thread pool the
# first start makes for nothing. For the files of a search or an ablation only (not for what
# the Makefile that includes this one runs: its tests among them), and a user's own settings,
# from the environment or the command line, are kept, as nash-train keeps them.
ifeq ($(origin OMP_WAIT_POLICY)$(origin GOMP_SPINCOUNT),undefinedundefined)
$(S_RUN)/% $(S_ABL)/%: export OMP_WAIT_POLICY := passive
endif
ifeq ($(origin OPENBLAS_NUM_THREADS),undefined)
$(S_RUN)/% $(S_ABL)/%: export OPENBLAS_NUM_THREADS := 1
endif
# search.sh in place of the recipe's shell (exec; the last command of a recipe): stopped (Ctrl-C,
# a scheduler's SIGTERM), that shell would die at once and make with it, while search.sh, which
# waits for its training and cleans up, went on unseen, into the next run's files (a requeued
# Slurm job starts again as soon as make has ended). make waits for the recipes it runs.
# (The assignments before exec reach the script's environment: no env program to start.)
S_SH     = NASH_BIN='$(S_BIN)' NASH_START='$(S_START)' exec $(SHELL) $(S_HERE)/search.sh
S_REPORT_SH = NASH_BIN='$(S_BIN)' NASH_START='$(S_START)' NASH_AT_ONCE='$(S_AT_ONCE)' exec $(SHELL) $(S_HERE)/report.sh
S_STEPS := $(shell seq 1 $(STEPS) 2>/dev/null)
# zero-padded numbers: the random seed of step k, child j is the search's seed followed by k
# and j in three digits each (SEED 1, step 2, child 3: 1002003), so every choice derives from them.
S_PAD   := $(shell seq -f %03g 1 999 2>/dev/null)
s_pad    = $(if $(filter 0,$1),000,$(word $1,$(S_PAD)))
# $(call s_seed,SEED,K,J)
s_seed   = $1$(call s_pad,$2)$(call s_pad,$3)
# $(call s_seeds,FIRST,N): the N seeds FIRST, FIRST+1, ... (empty when either is no number)
s_seeds  = $(shell { i=0; while [ "$$i" -lt '$2' ]; do echo $$(($1 + i)); i=$$((i + 1)); done; } 2>/dev/null)
# $(call s_seeds_fit,FIRST,N): 'ok' when FIRST+N-1 is below 10^13 (seeds append 6 digits)
s_seeds_fit = $(shell [ $$(($1 + $2 - 1)) -lt 10000000000000 ] 2>/dev/null && echo ok)
S_LR     = $(LR_START):$(LR_END)
S_LR_NEIGH = $(or $(LR_NEIGH),$(S_LR))

# $(call s_train,LR[,THREADS]): a training command at learning rate LR (START:END, cosine-
# annealed), on THREADS threads (default: THREADS).
s_train   = $(LAUNCH) $(S_BIN)/nash-train --data $(DATA) --lr $1 --batch $(BATCH) \
            $(if $(LIMIT),--limit $(LIMIT)) --device $(DEVICE) $(if $(or $2,$(THREADS)),--threads $(or $2,$(THREADS))) $(S_RECIPE)
# the recipe's options (empty: nash-train's defaults)
S_RECIPE  = $(if $(SMOOTHING),--label-smoothing $(SMOOTHING)) $(if $(EMA),--ema $(EMA)) $(if $(TTA),--tta $(TTA))
S_TRAIN   = $(call s_train,$(S_LR))
# the final training's threads: THREADS_ALONE unless trained snapshots share the cores with it
S_FINAL_THREADS = $(if $(and $(filter trained,$(ENSEMBLE)),$(word 2,$(S_STEPS))),$(call s_share,$(words $(S_STEPS))),$(THREADS_ALONE))
# $(call s_share,N): the threads of each of N trainings at once under THREADS_SHARED (empty
# without it: THREADS)
s_share = $(if $(THREADS_SHARED),$(shell c='$(THREADS_SHARED)' n='$1'; [ "$$n" -ge 1 ] 2>/dev/null || n=1; \
	[ "$$n" -le "$$c" ] || n=$$c; echo $$((c / n))))
# $(call s_final,EPOCHS[,THREADS]): the final phase's training (the final model and the trained
# snapshots).
s_final   = $(call s_train,$(S_LR),$2) --epochs $1 --eval test $(if $(filter all,$(FINAL_ON)),--train-on all)
S_EVAL    = --data $(DATA) --device $(DEVICE) $(if $(THREADS),--threads $(THREADS))
# the seed network's test and the ensembles', with the search's test-time augmentation
S_EVAL_TTA = $(S_EVAL) $(if $(TTA),--tta $(TTA))
S_MORPH   = $(S_BIN)/nash-morph -n $(MORPHS)

# ---- one search, as templates ----
#
# A search lives in a directory DIR; its seed network and pretraining in HOME/step0, where HOME
# is DIR itself or, for searches that start from the same pretrained network (the ablation's
# variants of one seed), a directory they share. Each template's rules name every file by
# these directories, so any number of searches are targets of one make graph.

# $(call s_seednet,HOME,SEED,LABEL): HOME/step0: the seed network, its pretraining (step 0's
# "best") and its test; stamps HOME/settings/init and seed. LABEL prefixes the progress lines.
define s_seednet
$1/step0/init.h5: $1/settings/init | $(S_ALL)
	@mkdir -p $$(@D)
	@$$(S_BIN)/nash-init --dataset $$(DATA) $$(if $$(ARCH),--arch $$(ARCH)) --widths $$(WIDTHS) $$(if $$(VAL),--val $$(VAL)) --seed $2 -o $$@
$1/step0/best.h5: $1/step0/init.h5 $1/settings/seed | $(S_ALL)
	@$$(S_BIN)/nash-report check-budget --label '$3' $$(if $$(LIMIT),--limit '$$(LIMIT)') $$< '$$(MAX_PARAMS)'
	@$$(S_SH) train --label $3seed $$@ $$< -- $$(call s_train,$$(S_LR),$$(THREADS_ALONE)) --epochs $$(EPOCHS_SEED) --seed $(call s_seed,$2,0,0)
# The seed network on the test set, for comparison.
$1/step0/test.txt: $1/step0/best.h5 | $(S_ALL)
	@$$(S_SH) capture $$@ $1/step0/test.log -- $$(LAUNCH) $$(S_BIN)/nash-train $$(S_EVAL_TTA) --epochs 0 --eval test $$<
# The stamps are written while the makefile is read; in a dry run they may not exist yet.
$1/settings/init $1/settings/seed: ;
.PRECIOUS: $1/step0/init.h5 $1/step0/best.h5
endef

# $(call s_search,DIR,SEED,HOME,NEIGH,LR_NEIGH,KEEP_PARENT,LABEL): the hill climbing from
# HOME/step0/best.h5 in DIR (NEIGH children per step, trained at LR_NEIGH; the parent a
# candidate when KEEP_PARENT is yes), its final phase and its report. Its parameters are kept
# as S.DIR.* for the templates below, which take DIR (and the step, the child) only.
s_search = $(eval S.$1.seed := $2)$(eval S.$1.home := $3)$(eval S.$1.neigh := $4)$(eval S.$1.lr := $5)\
	$(eval S.$1.keep := $6)$(eval S.$1.label := $7)$(eval S.$1.kids := $(shell seq 1 $4 2>/dev/null))\
	$(foreach k,$(S_STEPS),$(foreach j,$(S.$1.kids),$(eval $(call s_child,$1,$k,$j)))$(eval $(call s_select,$1,$k)))\
	$(foreach k,$(filter-out $(lastword $(S_STEPS)),$(S_STEPS)),$(eval $(call s_snap,$1,$k,$(word $k,$(wordlist 2,999,$(S_STEPS))))))\
	$(eval $(call s_tail,$1))

# $(call s_best,DIR,K): step K's best of the search in DIR (step 0's in its HOME)
s_best = $(if $(filter 0,$2),$(S.$1.home)/step0,$1/step$2)/best.h5
# $(call s_members,DIR): the snapshot ensemble: every step's best (the seed network when there
# are no steps), each trained as the final model is (ENSEMBLE=trained: DIR/snap/stepK.h5; the
# last step's is the final model itself) or as it left the search (raw).
s_members = $(if $(filter raw,$(ENSEMBLE)),$(or $(foreach k,$(S_STEPS),$1/step$k/best.h5),$(S.$1.home)/step0/best.h5),$(or \
	$(foreach k,$(S_STEPS),$1/snap/step$k.h5),$1/final.h5))

# Hill-climbing step K: NEIGH children of step K-1's best, each its own target (make -j
# trains them in parallel), then the selection over the children and the parent.
define s_child
$1/step$2/child$3.h5: $(call s_best,$1,$(word $2,0 $(S_STEPS))) $1/settings/morph $1/settings/neigh | $(S_ALL)
	@$$(S_SH) train --child --label $(S.$1.label)step$2/child$3 --max-params '$$(MAX_PARAMS)' $(S.$1.home)/step0/init.h5 \
		--max-growth '$$(MAX_GROWTH)' \
		--morph '$$(S_MORPH) --seed $(call s_seed,$(S.$1.seed),$2,$3)' \
		$$@ $$< -- $$(call s_train,$(S.$1.lr),$$(call s_share,$(words $(S.$1.kids)))) --epochs $$(EPOCHS_NEIGH) \
		--seed $(call s_seed,$(S.$1.seed),$2,$3)
.PRECIOUS: $1/step$2/child$3.h5
endef
define s_select
$1/step$2/best.h5: $(foreach j,$(S.$1.kids),$1/step$2/child$j.h5) \
		$(call s_best,$1,$(word $2,0 $(S_STEPS))) $1/settings/select | $(S_ALL)
	@$$(S_SH) select $(if $(S.$1.label),--label $(S.$1.label) )$(if $(filter no,$(S.$1.keep)),--replace )$$(if $$(TOLERANCE),--tolerance $$(TOLERANCE) )--step $2 $$(if $$(S_OPEN_ENDED),,--steps $$(STEPS)) $$@ $$(filter %.h5,$$^)
	@$$(S_SH) best $1 $$@
	@$$(S_REPORT_SH) --partial $(if $(filter-out $1,$(S.$1.home)),--step0 $(S.$1.home)/step0 )$1 $2
.PRECIOUS: $1/step$2/best.h5
endef

# The trained snapshots: step K's best trained as the final model is, each its own target
# (make -j trains them in parallel, a rerun resumes them from their checkpoints). A step whose
# parent won the next step has the same best as that step: its snapshot is a link to the next
# step's; the last step's is a link to the final model. STEPS is a prerequisite (a snapshot
# that was a link may have to be trained now); a trained one whose parent and command are
# unchanged is kept.
define s_snap
$1/snap/step$2.h5: $1/step$2/best.h5 $1/step$3/best.h5 $1/settings/snap $1/settings/steps | $(S_ALL)
	@$$(S_SH) snap --label $(S.$1.label)snap/step$2 --twin step$3.h5 $$@ $1/step$2/best.h5 $1/step$3/best.h5 \
		-- $$(call s_final,$$(EPOCHS_FINAL),$$(S_FINAL_THREADS)) --seed $(call s_seed,$(S.$1.seed),999,$2)
.PRECIOUS: $1/snap/step$2.h5
endef

define s_tail
# Final training of the last step's best (cosine annealing over EPOCHS_FINAL, on the
# training split or, FINAL_ON=all, on training + validation images), tested.
$1/final.h5: $(call s_best,$1,$(lastword 0 $(S_STEPS))) $1/settings/final | $(S_ALL)
	@$$(S_SH) train --label $(S.$1.label)final $$@ $$< -- $$(call s_final,$$(EPOCHS_FINAL),$$(S_FINAL_THREADS)) --seed $(call s_seed,$(S.$1.seed),999,0)
	@$$(S_SH) best $1 $$@
$(if $(S_STEPS),$1/snap/step$(lastword $(S_STEPS)).h5: $1/final.h5 $1/settings/steps
	@$$(S_SH) link $$@ ../final.h5)

# The snapshot ensemble of every step's (trained) best, on the test set.
$1/ensemble.txt: $(call s_members,$1) $1/settings/ensemble | $(S_ALL)
	@$$(S_SH) capture $$@ $1/ensemble.log -- $$(LAUNCH) $$(S_BIN)/nash-ensemble $$(S_EVAL_TTA) --eval test -o $1/ensemble.h5 $$(filter %.h5,$$^)

# The report: tables per step, a plot, the best architecture drawn, the summary, result.tsv.
$1/report.md: $1/final.h5 $1/ensemble.txt $(S.$1.home)/step0/test.txt $(foreach k,$(S_STEPS),$1/step$k/best.h5) \
		$1/settings/steps $1/settings/ensemble $1/settings/final $(S_HERE)/report.sh $(wildcard $1/climb.txt) | $(S_ALL)
	@$$(S_REPORT_SH) $(if $(filter-out $1,$(S.$1.home)),--step0 $(S.$1.home)/step0 )$1 $$(STEPS) $$(FINAL_ON) $$(ENSEMBLE)

$(addprefix $1/settings/,morph neigh select final snap steps ensemble run): ;
# Every target is renamed into place whole, so one that exists is complete: make must not
# delete it when stopped (a scheduler's SIGTERM may come just after a training wrote its model).
.PRECIOUS: $1/final.h5 $(if $(S_STEPS),$1/snap/step$(lastword $(S_STEPS)).h5)
endef

# $(call s_baseline,DIR,SEED,FROM,HOME,LABEL): (e) in DIR: no search. HOME's seed network
# (HOME/step0/init.h5, untrained, untouched by morphisms) trained as FROM's final model is, from
# scratch, for as many epochs as FROM's whole search took training time: FROM's training seconds
# (the pretraining, every child, the final phase) at the seed network's speed (its pretraining's
# images per second) over the final phase's images per epoch (DIR/budget.txt, nash-report baseline-budget;
# computed once, so that a rerun trains the same epochs).
# `make baseline` and `make ablation`'s variant (e).
define s_baseline
$1/budget.txt: $3/report.md $4/step0/best.h5 | $(S_ALL)
	@mkdir -p $$(@D)
	@$$(S_BIN)/nash-report baseline-budget $$@ $3/result.tsv $4/step0/best.h5
$1/final.h5: $4/step0/init.h5 $1/budget.txt $3/settings/final | $(S_ALL)
	@e=$$$$(sed -n 's/^epochs=//p' $1/budget.txt) && [ -n "$$$$e" ] || { echo "search: $1/budget.txt: no epochs" >&2; exit 1; }; \
		$$(S_SH) train --label $5final $$@ $4/step0/init.h5 -- $$(call s_final,$$$$e,$$(THREADS_ALONE)) --seed $(call s_seed,$2,999,0)
.PRECIOUS: $1/budget.txt $1/final.h5
endef

# ---- stamps: written when a search target is asked for (not by `make`, `make test`) ----
#
# Each group of settings is a file under DIR/settings/, rewritten only when its content changes:
# the targets that depend on it are redone exactly when one of its settings changed.

# A dry run (-n) or question (-q) must change nothing, stamps included.
S_DRY := $(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS)))
# $(call s_stamp,DIR,NAME,CONTENT): DIR/settings/NAME holds CONTENT, rewritten only on change.
s_stamp = $(if $(S_DRY)$(S_OUTER),,$(s_stamp_write))
# `make search`, `baseline`, `ablation` only start a sub-make (with the job and thread settings
# it chose) that writes the stamps: written here too, the record of the invocation's settings
# would change twice, and a make with nothing to do would touch it.
S_OUTER := $(if $(MAKECMDGOALS),$(if $(strip $(filter-out search baseline ablation,$(MAKECMDGOALS))),,outer))
# s_q: a single-quoted shell word holding any value ('\'' for every ').
s_q = '$(subst ','\'',$1)'
s_stamp_write = $(shell mkdir -p $(call s_q,$1/settings) && f=$(call s_q,$1/settings/$2) && v=$(call s_q,$(strip $3)) && \
	{ [ -f "$$f" ] && [ "$$(cat "$$f")" = "$$v" ] || { trap 'rm -f "$$f.tmp"; exit 130' INT TERM HUP; \
	printf '%s\n' "$$v" >"$$f.tmp" && mv -f "$$f.tmp" "$$f"; }; })
# A dataset file (DATA=h5:FILE) by its content as well as its path (S_DATA_SUM, below).
S_DATA = DATA=$(DATA)$(if $(S_DATA_SUM), DATA_CKSUM=$(S_DATA_SUM))
# $(call s_common,SEED): the settings every training of a search shares
s_common = $(S_DATA) LIMIT=$(LIMIT) BATCH=$(BATCH) LR_START=$(LR_START) LR_END=$(LR_END) SEED=$1$(s_recipe_record)
# the recipe's settings where given (a search made before they existed keeps its stamps)
s_recipe_record = $(if $(SMOOTHING), SMOOTHING=$(SMOOTHING))$(if $(EMA), EMA=$(EMA))$(if $(TTA), TTA=$(TTA))
# ARCH where it makes another seed network than nash-init's default (paper's is that one, file
# for file): the stamps of the searches made before ARCH existed stay theirs.
s_arch_record = $(if $(filter-out paper,$(ARCH)), ARCH=$(ARCH))
# $(call s_seednet_stamps,HOME,SEED)
s_seednet_stamps = $(call s_stamp,$1,init,$(S_DATA)$(s_arch_record) WIDTHS=$(WIDTHS) VAL=$(VAL) SEED=$2)\
	$(call s_stamp,$1,seed,EPOCHS_SEED=$(EPOCHS_SEED) $(call s_common,$2))
# $(call s_search_stamps,DIR): a search's, after s_search; what a variant changes (LR_NEIGH,
# KEEP_PARENT) is written only when it differs from the default, so that a search's stamps
# stay those of the searches made before these settings existed.
s_variant = $(if $(filter-out $(S_LR),$(S.$1.lr)), LR_NEIGH=$(S.$1.lr))$(if $(filter no,$(S.$1.keep)), KEEP_PARENT=no)
s_search_stamps = $(call s_stamp,$1,morph,MORPHS=$(MORPHS) MAX_PARAMS=$(MAX_PARAMS) SEED=$(S.$1.seed)$(s_growth_record))\
	$(call s_stamp,$1,neigh,EPOCHS_NEIGH=$(EPOCHS_NEIGH) $(call s_common,$(S.$1.seed))$(if $(filter-out $(S_LR),$(S.$1.lr)), LR_NEIGH=$(S.$1.lr)))\
	$(call s_stamp,$1,select,NEIGH=$(S.$1.neigh)$(if $(filter no,$(S.$1.keep)), KEEP_PARENT=no)$(s_tolerance_record))\
	$(call s_stamp,$1,final,EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) STEPS=$(STEPS) $(call s_common,$(S.$1.seed)))\
	$(call s_stamp,$1,snap,EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) $(call s_common,$(S.$1.seed)))\
	$(call s_stamp,$1,steps,STEPS=$(STEPS))\
	$(call s_stamp,$1,ensemble,ENSEMBLE=$(ENSEMBLE) STEPS=$(STEPS)$(if $(TTA), TTA=$(TTA)))\
	$(call s_stamp,$1,run,$(call s_run_record,$(S.$1.neigh),$(S.$1.seed))$(s_variant))
# MAX_GROWTH, TOLERANCE where given (a search made before they existed keeps its stamps)
s_growth_record = $(if $(MAX_GROWTH), MAX_GROWTH=$(MAX_GROWTH))
s_tolerance_record = $(if $(TOLERANCE), TOLERANCE=$(TOLERANCE))
# $(call s_run_record,NEIGH,SEED): every variable, the record of the last invocation's settings
s_run_record = PROFILE=$(PROFILE) STEPS=$(STEPS) NEIGH=$1 MORPHS=$(MORPHS) MAX_PARAMS=$(MAX_PARAMS)$(s_growth_record) \
	EPOCHS_SEED=$(EPOCHS_SEED) EPOCHS_NEIGH=$(EPOCHS_NEIGH) EPOCHS_FINAL=$(EPOCHS_FINAL) FINAL_ON=$(FINAL_ON) ENSEMBLE=$(ENSEMBLE) LR_START=$(LR_START) \
	LR_END=$(LR_END) DATA=$(DATA) LIMIT=$(LIMIT)$(s_arch_record) WIDTHS=$(WIDTHS) VAL=$(VAL) BATCH=$(BATCH) SEED=$2 \
	LAUNCH=$(LAUNCH) DEVICE=$(DEVICE) THREADS=$(THREADS)$(if $(THREADS_ALONE), THREADS_ALONE=$(THREADS_ALONE))$(if $(THREADS_SHARED), THREADS_SHARED=$(THREADS_SHARED))$(s_recipe_record)$(s_tolerance_record)

# The settings' shapes, checked by make itself: a search's makes read this file hundreds of
# times, and a `$(shell echo | grep)` per setting was two programs each (4,000 a test run).
# $(call s_nodigits,V): V without its digits; each test is 'x' when V has the shape.
s_nodigits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$1))))))))))
s_word     = $(if $(filter 1,$(words $1)),x)
# [0-9]+, [1-9][0-9]*, [0-9]{1,13}
s_count    = $(if $(call s_word,$1),$(if $(call s_nodigits,$1),,x))
s_positive = $(if $(call s_count,$1),$(if $(filter 0%,$1),,x))
s_seedlike = $(if $(call s_count,$1),$(if $(word 14,$(subst 0,0 ,$(subst 1,1 ,$(subst 2,2 ,$(subst 3,3 ,$(subst 4,4 ,$(subst 5,5 ,$(subst 6,6 ,$(subst 7,7 ,$(subst 8,8 ,$(subst 9,9 ,$1))))))))))),,x))
# ([0-9]*\.)?[0-9]+ (digits, at most one dot, a digit last); 0?\.[0-9]+|0 (a fraction below 1)
s_udec     = $(if $(call s_word,$1),$(if $(filter-out .,$(call s_nodigits,$1)),,$(if $(filter %0 %1 %2 %3 %4 %5 %6 %7 %8 %9,$1),x)))
s_frac     = $(if $(filter 0,$1),x,$(if $(call s_udec,$1),$(if $(filter .% 0.%,$1),x)))
# 0*[1-9][0-9]*(\.[0-9]+)? (a factor of 1 or more)
s_factor   = $(if $(call s_udec,$1),$(if $(filter .%,$1),,$(if $(subst 0,,$(firstword $(subst ., ,$1))),x)))
# N, or D followed by SUFFIX ($(call s_count_or,V,SUFFIX): 4x, 10%)
s_count_or = $(or $(call s_count,$1),$(if $(filter %$2,$1),$(call s_udec,$(patsubst %$2,%,$1))))
S_PERCENT := %
# [0-9]+[smh]?
s_walltime = $(call s_count,$(if $(filter %h,$1),$(patsubst %h,%,$1),$(if $(filter %m,$1),$(patsubst %m,%,$1),$(patsubst %s,%,$1))))
# START[:END], each ([0-9]*\.)?[0-9]+
s_lrs      = $(if $(call s_word,$1),$(if $(filter 1,$(words $(subst :, ,$1))),$(call s_udec,$1),$(if $(filter 2,$(words $(subst :, ,$1))),$(if $(filter $1,$(word 1,$(subst :, ,$1)):$(word 2,$(subst :, ,$1))),$(and $(call s_udec,$(word 1,$(subst :, ,$1))),$(call s_udec,$(word 2,$(subst :, ,$1))))))))

# ---- checks: when a search target is asked for ----
S_GOALS := $(filter search search-run baseline baseline-run $(S_RUN)/%,$(MAKECMDGOALS)) $(S_ABL_GOALS)
# A repacked dataset file redoes the search: its checksum is in the stamps (cksum reads the
# file at every make of a search target: about a second per GB).
S_DATA_SUM := $(if $(and $(strip $(S_GOALS)),$(filter h5:%,$(DATA))),$(shell f='$(patsubst h5:%,%,$(DATA))'; [ -f "$$f" ] && cksum <"$$f" | cut -d ' ' -f 1-2 | tr ' ' :))
ifneq ($(strip $(S_GOALS)),)
ifneq ($(words $(RUN)),1)
$(error search: RUN must be one path without spaces, not '$(RUN)')
endif
S_BAD := $(strip $(foreach v,$(if $(and $(BUDGET),$(if $(STEPS),,empty)),,STEPS) NEIGH MORPHS EPOCHS_SEED EPOCHS_NEIGH EPOCHS_FINAL BATCH SEED RUNS $(if $(LIMIT),LIMIT),\
	$(if $(call s_count,$($v)),,$v)))
ifneq ($(S_BAD),)
$(error search: $(S_BAD) must be non-negative integers)
endif
$(foreach v,THREADS THREADS_ALONE THREADS_SHARED,$(if $($v),$(if $(call s_positive,$($v)),,\
	$(error search: $v must be a positive integer (threads), not '$($v)'))))
ifneq ($(BUDGET),)
ifeq ($(call s_walltime,$(BUDGET)),)
$(error search: BUDGET must be a wall time such as 600s, 10m or 2h, not '$(BUDGET)')
endif
endif
ifneq ($(PATIENCE),)
ifeq ($(call s_positive,$(PATIENCE)),)
$(error search: PATIENCE must be a number of steps (1 or more), not '$(PATIENCE)')
endif
endif
ifeq ($(call s_frac,$(MIN_GAIN)),)
$(error search: MIN_GAIN must be a validation accuracy gain from 0 to below 1 (0.001 = 0.1 points), not '$(MIN_GAIN)')
endif
ifneq ($(BUDGET)$(PATIENCE),)
ifneq ($(RUNS),1)
$(error search: BUDGET and PATIENCE are for one search (RUNS=1))
endif
endif
ifneq ($(MAX_PARAMS),)
ifeq ($(call s_count_or,$(MAX_PARAMS),x),)
$(error search: MAX_PARAMS must be a number of parameters (200000) or a multiple of the seed network's (4x), not '$(MAX_PARAMS)')
endif
endif
ifneq ($(MAX_GROWTH),)
ifeq ($(call s_factor,$(MAX_GROWTH)),)
$(error search: MAX_GROWTH must be a factor of 1 or more (1.5: a child costs at most 1.5 times its parent's multiply-adds per image), or empty for no cap, not '$(MAX_GROWTH)')
endif
endif
ifneq ($(TOLERANCE),)
ifeq ($(call s_frac,$(TOLERANCE)),)
$(error search: TOLERANCE must be a validation accuracy from 0 to below 1 (0.002 = 0.2 points), not '$(TOLERANCE)')
endif
endif
ifneq ($(VAL),)
ifeq ($(call s_count_or,$(VAL),$(S_PERCENT)),)
$(error search: VAL must be a number of validation images (5000) or a percentage of the training set (10%), not '$(VAL)')
endif
endif
ifeq ($(RUNS),0)
$(error search: RUNS must be at least 1)
endif
ifneq ($(word 999,$(S_STEPS))$(word 1000,$(shell seq 1 $(NEIGH) 2>/dev/null)),)
$(error search: at most 998 STEPS and 999 NEIGH (seeds number them in three digits))
endif
ifeq ($(call s_seedlike,$(SEED)),)
$(error search: SEED must be below 10^13 (the seeds of steps and children append 6 digits))
endif
ifeq ($(filter default paper cifar10 cifar10-cpu ablation,$(PROFILE)),)
$(error search: PROFILE must be default, paper, cifar10, cifar10-cpu or ablation, not '$(PROFILE)')
endif
ifneq ($(filter cifar10 cifar10-cpu,$(PROFILE)),)
ifeq ($(filter cifar10:% cifar10@%,$(DATA)),)
$(error search: PROFILE=$(PROFILE) needs DATA=cifar10:DIR, DIR holding CIFAR-10's binary version (data_batch_1.bin ... test_batch.bin), not DATA=$(DATA))
endif
endif
ifneq ($(filter-out paper groups,$(ARCH))$(word 2,$(ARCH)),)
$(error search: ARCH must be empty, paper or groups (nash-init --arch), not '$(ARCH)')
endif
ifeq ($(filter train all,$(FINAL_ON)),)
$(error search: FINAL_ON must be train or all, not '$(FINAL_ON)')
endif
ifeq ($(filter trained raw,$(ENSEMBLE)),)
$(error search: ENSEMBLE must be trained or raw, not '$(ENSEMBLE)')
endif
ifeq ($(filter yes no,$(KEEP_PARENT)),)
$(error search: KEEP_PARENT must be yes or no, not '$(KEEP_PARENT)')
endif
ifneq ($(LR_NEIGH),)
ifeq ($(call s_lrs,$(LR_NEIGH)),)
$(error search: LR_NEIGH must be START[:END] (learning rates, e.g. 0.02:0.02), not '$(LR_NEIGH)')
endif
endif
$(foreach v,SMOOTHING EMA,$(if $($v),$(if $(call s_frac,$($v)),,\
	$(error search: $v must be a number from 0 to below 1 (nash-train --$(if $(filter EMA,$v),ema,label-smoothing)), not '$($v)'))))
ifneq ($(TTA),)
ifeq ($(filter none flip flip-shift,$(TTA)),)
$(error search: TTA must be none, flip or flip-shift (nash-train --tta), not '$(TTA)')
endif
endif
S_START := $(shell date +%s)
endif

# ---- the searches of `make search` ----
ifeq ($(RUNS),1)
# One search in RUN itself.
$(eval $(call s_seednet,$(S_RUN),$(SEED),))
$(call s_search,$(S_RUN),$(SEED),$(S_RUN),$(NEIGH),$(S_LR_NEIGH),$(KEEP_PARENT),)
S_REPORT := $(S_RUN)/report.md
# `make baseline`: no search, the seed network trained for the search's training time
# (ablation.mk's variant (e)), in RUN/baseline.
$(eval $(call s_baseline,$(S_RUN)/baseline,$(SEED),$(S_RUN),$(S_RUN),baseline/))
ifneq ($(strip $(filter search search-run baseline baseline-run $(S_RUN)/%,$(MAKECMDGOALS))),)
ifneq ($(wildcard $(S_RUN)/run1),)
$(error search: $(S_RUN) holds repeated searches (run1, ...): give their RUNS or another RUN)
endif
$(call s_seednet_stamps,$(S_RUN),$(SEED))$(call s_search_stamps,$(S_RUN))
endif
else
# RUNS=N: search I in RUN/runI with the seed SEED+I-1, each with its own report; then the
# ensemble of their final networks and a report over them (nash-report runs).
S_RUN_SEEDS := $(call s_seeds,$(SEED),$(RUNS))
S_RUN_IDS   := $(shell seq 1 $(RUNS) 2>/dev/null)
# $(call s_repeat,I,SEED)
s_repeat = $(eval $(call s_seednet,$(S_RUN)/run$1,$2,run$1/))\
	$(call s_search,$(S_RUN)/run$1,$2,$(S_RUN)/run$1,$(NEIGH),$(S_LR_NEIGH),$(KEEP_PARENT),run$1/)
$(foreach i,$(S_RUN_IDS),$(call s_repeat,$i,$(word $i,$(S_RUN_SEEDS))))
S_REPORT := $(S_RUN)/report.md
ifneq ($(strip $(filter search search-run $(S_RUN)/%,$(MAKECMDGOALS))),)
ifeq ($(call s_seeds_fit,$(SEED),$(RUNS)),)
$(error search: SEED+RUNS-1 must be below 10^13 (the seeds of steps and children append 6 digits))
endif
ifneq ($(wildcard $(S_RUN)/step0),)
$(error search: $(S_RUN) holds a single search (step0, ...): give RUNS=1 or another RUN)
endif
$(foreach i,$(S_RUN_IDS),$(call s_seednet_stamps,$(S_RUN)/run$i,$(word $i,$(S_RUN_SEEDS)))$(call s_search_stamps,$(S_RUN)/run$i))
$(call s_stamp,$(S_RUN),runs,RUNS=$(RUNS) SEED=$(SEED))
$(call s_stamp,$(S_RUN),run,RUNS=$(RUNS) $(call s_run_record,$(NEIGH),$(SEED))$(if $(LR_NEIGH), LR_NEIGH=$(LR_NEIGH))$(if $(filter no,$(KEEP_PARENT)), KEEP_PARENT=no))
endif
S_FINALS := $(foreach i,$(S_RUN_IDS),$(S_RUN)/run$i/final.h5)
# The ensemble of the runs' final networks, on the test set (they differ in architecture; the
# same data and validation split make them comparable).
$(S_RUN)/ensemble.txt: $(S_FINALS) $(S_RUN)/settings/runs | $(S_ALL)
	@$(S_SH) capture $@ $(S_RUN)/ensemble.log -- $(LAUNCH) $(S_BIN)/nash-ensemble $(S_EVAL_TTA) --eval test -o $(S_RUN)/ensemble.h5 $(S_FINALS)
$(S_RUN)/report.md: $(foreach i,$(S_RUN_IDS),$(S_RUN)/run$i/report.md) $(S_RUN)/ensemble.txt $(S_RUN)/settings/runs | $(S_ALL)
	@$(S_BIN)/nash-report runs $(S_RUN) $(foreach i,$(S_RUN_IDS),run$i)
$(S_RUN)/settings/runs $(S_RUN)/settings/run: ;
endif

# ---- the targets ----

# Every core by default: a make given neither -j nor THREADS runs as many trainings at once as
# there are cores, one thread each: besides a little more training throughput than one
# training on every core, they overlap what is not training (evaluations, start-up, loading,
# morphisms; docs/SEARCH.md, "Parallelism"). THREADS=T alone runs cores/T trainings at once;
# -j as given.
S_NPROC := $(shell nproc 2>/dev/null || echo 1)
# the trainings at once that make chooses: cores / THREADS (at least 1), or every core
S_SPLIT  = $(if $(THREADS),$(shell n=$$(($(S_NPROC) / $(THREADS))) && [ $$n -gt 0 ] && echo $$n || echo 1),$(S_NPROC))
S_JOBS   = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(S_SPLIT)$(if $(THREADS),, THREADS=1))
# one search: what trains alone gets every core (THREADS_ALONE) when make chose the split, and
# the trainings at once of a step or of the final phase share them (THREADS_SHARED)
S_CHOOSES  = $(if $(filter -j%,$(MAKEFLAGS))$(THREADS)$(THREADS_ALONE)$(THREADS_SHARED),,yes)
S_JOBS_ONE = $(S_JOBS)$(if $(S_CHOOSES), THREADS_ALONE=$(S_NPROC) THREADS_SHARED=$(S_NPROC))

# BUDGET, PATIENCE: the steps one at a time, each a sub-make as above (search.sh climb). Its
# most steps: STEPS given on the command line, else the profile's without BUDGET, else (or
# with STEPS= empty) 998.
S_BUDGET_S = $(shell echo '$(BUDGET)' | awk '{ n = $$0 + 0; u = substr($$0, length($$0)); print n * (u == "h" ? 3600 : u == "m" ? 60 : 1) }')
S_MAX_STEPS = $(if $(and $(BUDGET),$(or $(filter-out command line,$(origin STEPS)),$(if $(STEPS),,empty))),998,$(STEPS))
# the trainings at once: -jN as given, else as S_JOBS chooses; with the cores shared by a
# step's children, at most NEIGH
S_AT_ONCE_J = $(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),$(S_SPLIT))
S_AT_ONCE = $(if $(or $(S_CHOOSES),$(THREADS_SHARED)),$(shell j='$(S_AT_ONCE_J)' n='$(NEIGH)'; \
	[ "$$n" -ge 1 ] 2>/dev/null && [ "$$n" -lt "$$j" ] && echo "$$n" || echo "$$j"),$(S_AT_ONCE_J))
S_CLIMB = $(S_SH) climb --run $(S_RUN) --max-steps $(S_MAX_STEPS) $(if $(BUDGET),--budget $(S_BUDGET_S)) \
	$(if $(PATIENCE),--patience $(PATIENCE) --min-gain $(MIN_GAIN)) --epochs $(EPOCHS_SEED),$(EPOCHS_NEIGH),$(EPOCHS_FINAL) \
	--neigh $(NEIGH) --jobs $(S_AT_ONCE) --final-on $(FINAL_ON) --ensemble $(ENSEMBLE) \
	-- $(MAKE) --no-print-directory $(S_JOBS_ONE) -f $(S_MAKEFILE)

# BUDGET's measure of a step's best at the final phase's threads (pipelines/climb.sh makes it
# after each step, within the step's time): one epoch of at most 8192 training images, trained
# as the final phase trains, whose record's seconds per image predict the final phase
# (lib/search/budget.c). The record's seconds hold the check after the epoch too (with
# FINAL_ON=all, 1,024 training images; else the validation images), so the speed errs on the
# side of the budget. Nothing else reads the file.
S_SPEED_IMAGES = $(if $(LIMIT),$(shell [ '$(LIMIT)' -lt 8192 ] 2>/dev/null && echo '$(LIMIT)' || echo 8192),8192)
$(S_RUN)/step%/speed.h5: $(S_RUN)/step%/best.h5
	@$(LAUNCH) $(S_BIN)/nash-train --data $(DATA) --lr $(S_LR) --batch $(BATCH) --limit $(S_SPEED_IMAGES) \
		--device $(DEVICE) $(if $(S_FINAL_THREADS),--threads $(S_FINAL_THREADS)) $(S_RECIPE) --epochs 1 \
		$(if $(filter all,$(FINAL_ON)),--train-on all) -o $@ $< >$@.log 2>&1 || { cat $@.log >&2; exit 1; }

# a dry run (-n) of BUDGET, PATIENCE shows the plan of STEPS (the climb would run makes)
S_DRY_CLIMB = search: BUDGET and PATIENCE decide the steps as the search goes; this is the plan of STEPS=$(STEPS)

# First the Debian packages (tests/deps.sh installs what is missing when run as root; not
# needed with BIN), then the pipeline in a sub-make that gets the same settings and job slots.
# The sub-make runs under a shell that traps the stop signals: make passes a SIGTERM on to its
# child, and a make that is waiting for its recipes after the first SIGTERM (as the group's
# SIGTERM of scancel or a requeue) dies of a second one, leaving recipes that clean up running
# after it; the trap takes that second signal (trapped, not ignored: the sub-make gets the
# default disposition) and the shell waits for the sub-make.
search:
	@$(if $(BIN),test -x '$(S_BIN)/nash-train' || { echo 'search: BIN=$(BIN) holds no nash-train' >&2; exit 2; },tests/deps.sh)
	@$(if $(and $(BUDGET)$(PATIENCE),$(if $(S_DRY),,climb)),$(S_CLIMB),$(if $(S_DRY),$(if $(BUDGET)$(PATIENCE),echo '$(S_DRY_CLIMB)';),\
		! [ -f $(S_RUN)/climb.txt ] || rm -f $(S_RUN)/climb.txt $(S_RUN)/report.md;) trap : TERM INT HUP; \
		$(MAKE) --no-print-directory $(if $(filter 1,$(RUNS)),$(S_JOBS_ONE),$(S_JOBS)) -f $(S_MAKEFILE) search-run)
search-run: $(S_REPORT)
	@cat $(S_RUN)/summary.txt

# `make baseline` after (or with) `make search`: the no-search baseline of equal training time,
# RUN/baseline/final.h5 (one search: RUNS=1), and a line setting it against the search.
baseline:
	@$(if $(BIN),test -x '$(S_BIN)/nash-train' || { echo 'baseline: BIN=$(BIN) holds no nash-train' >&2; exit 2; },tests/deps.sh)
	@$(if $(filter 1,$(RUNS)),,echo 'baseline: one search only (RUNS=1); make ablation compares several' >&2; exit 2)
	@trap : TERM INT HUP; $(MAKE) --no-print-directory $(S_JOBS_ONE) -f $(S_MAKEFILE) baseline-run
baseline-run: $(S_RUN)/baseline/final.h5 $(S_REPORT)
	@$(S_BIN)/nash-show --tsv $(S_RUN)/final.h5 $(S_RUN)/baseline/final.h5 | awk -F '\t' \
		'NR == 1 { for (i = 1; i <= NF; i++) c[$$i] = i; next } \
		{ t[NR] = $$c["test_accuracy"]; p[NR] = $$c["params"]; s[NR] = $$c["total_seconds"] } \
		END { printf "search     test %s  %s params (final network)\nno search  test %s  %s params, %s s of training (%s)\n", \
			t[2], p[2], t[3], p[3], s[3], "$(S_RUN)/baseline/final.h5" }'
	@cat $(S_RUN)/baseline/budget.txt

.PHONY: search search-run baseline baseline-run

# `make ablation`: the variants of the search on several seeds, in one make graph.
include $(S_HERE)/ablation.mk
