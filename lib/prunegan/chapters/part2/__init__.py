"""Chapter 6 (Part 2): configs from the notebook's parameters, the methods compared, the choices made
on the training networks only (channel features, GAN hyper-parameters, the best standard criterion),
the statistics the targets judge, and the numbers glued for the findings page.

Two settings of LeNet-5 (:data:`SETTINGS`): its conv channels only, and its conv channels plus the
hidden Linear units. Networks ``0 … n−1`` are LeNet-5s trained from seeds ``100·seed + i`` (``seed``:
the replicate) on the training images minus a validation split. They are cross-fitted
(:mod:`.crossfit`): in fold ``k`` its networks are never shown to anything that learns or chooses, and
are where everything is measured (test images); every network is held out exactly once.
``lenet5-caffe`` (conv only) is an architecture the generator never saw.

Modules: :mod:`.config` (settings, seeds, targets, the parameters :class:`Chapter6Params` and the
configs built from them), :mod:`.overview` (tables of the splits, mask spaces and banks),
:mod:`.learned` (landscapes, feature and design choices, per-seed fits), :mod:`.criteria` (standard
criteria, the best one), :mod:`.methods` (the methods compared, the protocol), :mod:`.crossfit` (one
fold end to end, every fold), :mod:`.report` (statistics, verdicts, glued values), :mod:`.summary`
(the glued numbers as one typed object and its scraps), :mod:`.study` (``run``: the chapter end to end,
one result object the notebook displays), :mod:`.gaps` (where the gap to the best criterion comes from),
:mod:`.tables` and :mod:`.choices` (what a reader sees of the comparison and of what the folds learned
and chose: formatted tables and the sentences after each section), :mod:`.setting_choice` (the generator
chosen per setting by sampled retraining, leave-one-network-out: measured by a benchmark, not run by the
chapter).
"""
from .config import (  # noqa: F401
    SETTINGS, CRITERIA, SEED_STRIDE, BANK_STRIDE, PROTOCOL_SEED, PROTOCOL_STRIDE, CANDIDATE_OFFSET,
    TARGETS, VARIANTS, Chapter6Params, DEFAULTS, SMOKE_PARAMS, smoke_sets, params_from_cell,
    params_from_namespace, Configs,
    configs, network_config, fold_networks, STRUCTURAL_FEATURES, CHANNEL_FEATURES, MAGNITUDE_FEATURES,
    BASE_FEATURES, STABILISERS, ALLOCATION_CRITERIA, FEATURE_CRITERIA, BASELINES,
)
from .crossfit import (  # noqa: F401
    Fold, run_fold, cross_fit, design_overview, final_design, final_fit, final_checks, gather, fold_of,
)
from .overview import split_sizes, mask_space_overview, bank_overview  # noqa: F401
from .learned import (  # noqa: F401
    critic_quality, critic_summary, landscape_rows, landscapes, landscape_examples, feature_choice,
    selected_features, expected_on_landscape, design_choice, simplest_design, design_advantages,
    chosen_design, expected_table, designs, fit_learned, collapse_sweep,
)
from .criteria import (  # noqa: F401
    standard_methods, CRITERION_CANDIDATES, TIE_ATOL, criterion_choice, best_criteria, criterion_ties,
    chosen_criterion,
)
from .methods import (  # noqa: F401
    entries, run_protocol, with_best_criterion,
)
from .report import (  # noqa: F401
    statistics, ablation, verdict, headlines, one_off_costs, extra_numbers,
)
from .summary import Chapter6Summary, Interval, TargetResult, FitCounts, MARGINS  # noqa: F401
from .study import Chapter6Result, run  # noqa: F401
