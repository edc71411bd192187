"""Typed schema of the config tree.

The values live in `conf/` (the single source of defaults); these dataclasses only give every
field its type, so that Hydra rejects a typo or a wrong type at compose time. Fields with a
closed set of values are Enums: OmegaConf then names the accepted values in its error.
Checks that need more than one field (D a multiple of the head dim, ...) are in `validate`.

Letters (README "The science: Letters"): D width, L depth, V vocabulary size, T tokens, N parameters.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import enum
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf, read_write
from omegaconf.errors import MissingMandatoryValue

from sweep.errors import ConfigError, DamagedFile


class DataSource(enum.Enum):
    embedded = "embedded"  # prose that ships with Python itself (pydoc topics, docstrings)
    files = "files"  # the user's own .txt / .jsonl(.gz) / .parquet files
    hf = "hf"  # a `datasets` dataset (hub name or local folder), streamed; c4 is one
    synthetic = "synthetic"  # a random sparse Markov source with a known entropy rate


class TokenizerKind(enum.Enum):
    byte = "byte"  # 256 byte values + end-of-document: V = 257
    bpe = "bpe"  # byte-level BPE trained on the corpus (HF tokenizers), V = data.vocab_size
    pretrained = "pretrained"  # a `transformers` tokenizer (data.tokenizer_name), + BOS if asked
    none = "none"  # the source emits token ids itself (synthetic), V = data.vocab_size


# V of the tokenizers whose size is their own, not a setting: data.vocab_size is filled with it where a
# config leaves it at ??? (data=hf data.tokenizer=byte; to_typed). The others' V is data.vocab_size.
OWN_VOCAB_SIZES = {TokenizerKind.byte: 257}  # 256 byte values + end-of-document


class WeightDecayMode(enum.Enum):
    coupled = "coupled"  # torch AdamW: decay multiplied by the learning rate
    independent = "independent"  # decay not scaled by the learning rate
    l2 = "l2"  # explicit 0.5 * wd * ||w||^2 penalty added to the loss


class Device(enum.Enum):
    auto = "auto"  # cuda when available, else cpu
    cpu = "cpu"
    cuda = "cuda"


class LoggerKind(enum.Enum):
    wandb = "wandb"  # one Weights & Biases run per training run
    none = "none"  # metrics.jsonl only


class LoggerMode(enum.Enum):
    auto = "auto"  # online when a W&B API key is configured, else offline
    online = "online"
    offline = "offline"  # into the run folder, to `wandb sync` later


class Schedule(enum.Enum):
    cosine = "cosine"  # linear warmup, cosine decay to final_lr_fraction over the whole run
    wsd = "wsd"  # warmup, stable at the peak, then a cooldown over the last cooldown_fraction


COOLDOWN_SHAPES = ("linear", "1-sqrt")  # optim.cooldown_shape (a string: `1-sqrt` is no Python name)


class Precision(enum.Enum):
    auto = "auto"  # bf16 autocast where the device runs it fast, else fp32
    bf16 = "bf16"
    fp32 = "fp32"


@dataclass
class ModelConfig:
    d: int = MISSING  # width D
    l: int = MISSING  # depth L (number of blocks)
    head_dim: int = MISSING  # heads = D / head_dim
    mlp_ratio: int = MISSING  # MLP hidden size F = mlp_ratio * D
    seq_len: int = MISSING  # tokens per training sequence
    rope_base: float = MISSING


@dataclass
class SyntheticConfig:
    """The Markov source of data=synthetic (sweep/data/synthetic.py says what each knob does)."""
    seed: int = MISSING  # the language: its transition structure and its documents
    order: int = MISSING  # tokens of context that decide the next token's distribution
    branching: int = MISSING  # non-EOS successors of every context
    eos_prob: float = MISSING  # probability of ending the document after any token
    zipf: float = MISSING  # successor probabilities proportional to 1 / rank^zipf
    repeat_fraction: float = MISSING  # train documents that copy an earlier one
    unique_documents: Optional[int] = MISSING  # null: all train documents are new draws
    documents_per_shard: int = MISSING  # documents generated per prepared shard


@dataclass
class DataConfig:
    source: DataSource = MISSING
    tokenizer: TokenizerKind = MISSING
    vocab_size: int = MISSING  # V for bpe / pretrained (+ BOS) / none (byte: its own 257, OWN_VOCAB_SIZES)
    paths: List[str] = MISSING  # `files` source: files, folders or glob patterns
    text_field: str = MISSING  # field / column holding the text
    eval_tokens: int = MISSING  # size of the fixed held-out split, in tokens
    cache_dir: str = MISSING  # token caches live here, shared by every run of a sweep
    tokenizer_name: Optional[str] = MISSING  # pretrained: a hub name or a local folder
    add_bos: bool = MISSING  # pretrained: put a BOS id (= the tokenizer's size) before each document
    hf_path: Optional[str] = MISSING  # hf: dataset name on the hub, or a local dataset folder
    hf_name: Optional[str] = MISSING  # hf: the dataset's configuration (c4: en)
    split: str = MISSING  # hf: the split trained on
    eval_split: Optional[str] = MISSING  # hf: held-out split; null: the first train documents
    max_epochs: Optional[float] = MISSING  # passes over the train tokens a run may make; null: any
    density_documents: int = MISSING  # documents the data-density report examines
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class OptimConfig:
    lr: float = MISSING  # peak learning rate
    weight_decay: float = MISSING
    weight_decay_mode: WeightDecayMode = MISSING
    b1: float = MISSING
    b2: float = MISSING
    eps: float = MISSING
    warmup_steps: int = MISSING  # linear warmup length ...
    warmup_max_fraction: float = MISSING  # ... capped at this fraction of the run's steps
    final_lr_fraction: float = MISSING  # the schedule ends at this fraction of the peak
    grad_clip: Optional[float] = MISSING  # max global grad norm; null = no clipping
    schedule: Schedule = MISSING  # cosine | wsd
    cooldown_fraction: float = MISSING  # wsd: the fraction of the steps that decays, in (0, 1]
    cooldown_shape: str = MISSING  # wsd: linear | 1-sqrt (COOLDOWN_SHAPES)


@dataclass
class TrainLoopConfig:
    batch_size: int = MISSING  # sequences per optimizer step
    log_every: int = MISSING  # steps between metrics.jsonl lines (and divergence checks)
    eval_every: int = MISSING  # steps between held-out evals (and one at the end)
    checkpoint_every_minutes: float = MISSING  # wall-clock checkpoint cadence
    divergence_factor: float = MISSING  # diverged if loss > factor * ln(V) (or not finite)
    device: Device = MISSING
    precision: Precision = MISSING
    compile: Optional[bool] = MISSING  # null = on for CUDA, off for CPU
    peak_tflops: Optional[float] = MISSING  # MFU's peak per device; null: datasheet, else measured
    loss_chunk_tokens: Optional[int] = MISSING  # head + loss fused, this many tokens at a time; null: whole logits


@dataclass
class BudgetConfig:
    tokens_per_param: float = MISSING  # Chinchilla-optimal is 20
    count_embedding: bool = MISSING  # N = 12 D^2 L (+ D V when true)
    # With optim.schedule=wsd and a grid over tokens_per_param: per point of the other axes one
    # trunk (constant learning rate) and one cooldown branch per budget (sweep/ladder.py)
    branch: bool = MISSING
    # Set by the planner, never by hand: the largest tokens_per_param of the run's ladder (the
    # trunk's length and warmup), and whether the run is the ladder's trunk
    ladder_tokens_per_param: Optional[float] = MISSING
    trunk: bool = MISSING


@dataclass
class EarlyStopConfig:
    """Stopping the runs of a budget group that cannot win it (sweep/early_stop.py, README "Early
    stopping"). Not part of a run's identity: a probed run trains exactly as a plain one."""

    enabled: bool = MISSING
    fraction: float = MISSING  # decide after this fraction of each run's steps, in (0, 1)
    # decide the runs still going again at these later fractions, increasing, in (fraction, 1). A list, not
    # MISSING: a config written before the setting existed (a queued job's, a run folder's) decides once
    again_at: List[float] = field(default_factory=list)
    margin: float = MISSING  # relative, in [0, 1): stop when the run's interval lies above the best's by more
    beaten_by: int = MISSING  # ... above the intervals of this many other members (>= 1; all, where fewer)
    resamples: int = MISSING  # bootstrap resamples of each prediction's interval
    level: float = MISSING  # the intervals' level, in (0, 1)
    # E, 'true' or 'auto': predict from a finished smaller run (sweep/fit/collapse.py). None, not MISSING: a
    # config written before the setting existed (a queued job's, a run folder's) reads as off
    floor: Optional[str] = None
    # compare two members predicted from finished smaller runs by the gap between their predictions, calibrated on
    # the size below (sweep/early_stop.py clearly_worse); false: by their two intervals. False, not MISSING: a
    # config written before the setting existed (a queued job's, a run folder's) compares as it did
    gaps: bool = False


@dataclass
class WandbStartConfig:
    """How an online W&B run starts (conf/wandb_start.yaml): tries, each bounded, jittered waits."""

    attempts: int = MISSING  # wandb.init tries while online, before logging offline
    init_timeout_s: float = MISSING  # each try's limit
    backoff_s: float = MISSING  # the wait before the 2nd try, doubled before each next one, jittered
    max_total_s: float = MISSING  # tries and waits together never take longer


@dataclass
class LoggerConfig:
    kind: LoggerKind = MISSING
    mode: LoggerMode = MISSING
    project: str = MISSING
    entity: Optional[str] = MISSING  # null: the API key's default entity
    group: Optional[str] = MISSING  # null: the sweep's name (the last part of out_dir)
    tags: List[str] = MISSING  # added to the tags every run gets (its coordinates)
    start: WandbStartConfig = field(default_factory=WandbStartConfig)


@dataclass
class ExperimentConfig:
    """An experiment preset (conf/experiment/NAME.yaml, `+experiment=NAME`): a paper's finding as a
    ready grid at several scales. The grid sweeper adds the chosen scale's overrides and grids
    (launch/grid.py config_grids); a run only records them (no part of its identity)."""
    name: Optional[str] = MISSING  # null: no experiment
    claim: Optional[str] = MISSING  # the finding, in one sentence
    scale: str = MISSING  # one of `scales`' keys
    scales: Dict[str, Any] = field(default_factory=dict)  # scale -> {overrides: [...], grids: [[...], ...], note: ...}


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainLoopConfig = field(default_factory=TrainLoopConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    seed: int = MISSING
    recipe: Optional[str] = MISSING  # a label for comparing training recipes (sweep fit --law crossover)
    out_dir: str = MISSING  # root of all run folders


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "optim": OptimConfig, "train": TrainLoopConfig,
             "budget": BudgetConfig, "logger": LoggerConfig,
             "early_stop": EarlyStopConfig, "experiment": ExperimentConfig}


def register_configs() -> None:
    """Make the schema known to Hydra as `train_schema` (used by conf/train.yaml)."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


register_configs()


def check_key(key: str) -> None:
    """A dotted key of the schema (`model.d`, `data.synthetic.seed`); anything else is a
    ConfigError naming the accepted keys of its section and the closest one."""
    section: Any = TrainConfig
    parts = key.split(".")
    for depth, part in enumerate(parts):
        accepted = [f.name for f in dataclasses.fields(section)]
        if part not in accepted:
            where = ".".join(parts[:depth])
            close = difflib.get_close_matches(part, accepted, n=1)
            if not close and KEY_SYNONYMS.get(part) in accepted:  # another codebase's name: learning_rate
                close = [KEY_SYNONYMS[part]]
            hint = f"; did you mean {'.'.join([*parts[:depth], close[0]])}?" if close else ""
            homes = _homes(parts[-1]) if depth == 0 and not close else []
            if len(homes) == 1:  # `lr=1e-3`: a section's key given without its section
                hint = f"; did you mean {homes[0]}?"
            raise ConfigError(f"{key}: unknown key {part!r} in {where or 'the config'}; accepted keys"
                              f"{' of ' + where if where else ''}: {', '.join(accepted)}{hint}")
        field_type = _field_types(section)[part]
        if depth < len(parts) - 1 and not dataclasses.is_dataclass(field_type):
            if parts[:depth + 1] == ["experiment", "scales"]:  # a mapping, but the preset's, read before the overrides
                raise ConfigError(f"{key}: experiment.scales is the preset's own table of scales, applied before the "
                                  "command line, so it cannot be overridden there; give the keys themselves "
                                  "(`+experiment=NAME model.d=32 optim.lr=1e-2,2e-2` replace the preset's), or "
                                  "edit a copy of conf/experiment/NAME.yaml")
            raise ConfigError(f"{key}: {'.'.join(parts[:depth + 1])} is a value, not a section")
        section = field_type


KEY_SYNONYMS = {"learning_rate": "lr", "wd": "weight_decay", "bs": "batch_size", "width": "d", "d_model": "d",
                "depth": "l", "n_layers": "l", "num_layers": "l"}  # other codebases' names: check_key's did-you-mean


def _homes(name: str) -> list[str]:
    """The dotted keys of the sections' settings called `name` (or the name KEY_SYNONYMS gives it)."""
    wanted = {name, KEY_SYNONYMS.get(name, name)}
    return [f"{section}.{f.name}" for section, cls in _SECTIONS.items() for f in dataclasses.fields(cls)
            if f.name in wanted and not dataclasses.is_dataclass(_field_types(cls)[f.name])]


def section_keys(key: str) -> list[str]:
    """The keys of the section of settings `key` names (`model`: d, l, ...), none where `key` names
    a setting; `key` is a schema key (check_key first)."""
    section: Any = TrainConfig
    for part in key.split("."):
        section = _field_types(section)[part]
    return [f.name for f in dataclasses.fields(section)] if dataclasses.is_dataclass(section) else []


def check_not_section(key: str, value: str) -> None:
    """ConfigError for `key=value` where `key` is a section of settings (`model=big`, `optim=null`; was
    OmegaConf's "str is not a subclass of ModelConfig"): no value replaces a section, its keys are
    set one by one; `key` is a schema key (check_key first)."""
    keys = section_keys(key)
    if keys:
        examples = ", ".join(f"{key}.{name}=..." for name in keys[:2])
        raise ConfigError(f"{key}={value}: {key} is a section of settings, not a config group; set its keys instead "
                          f"({examples}); accepted keys of {key}: {', '.join(keys)}")


def check_not_null(key: str) -> None:
    """ConfigError for `key=null` where the schema's field takes a value (was OmegaConf's "field
    'model.d' is not Optional"); `key` is a schema key naming a setting (check_not_section first)."""
    kind = _setting_type(key)
    if "Optional" not in kind and "None" not in kind:
        raise ConfigError(f"{key}=null: {key} takes a value ({kind}); null is accepted only by settings that may be "
                          "left unset")


def check_bool(key: str, value: str) -> None:
    """ConfigError for `key=value` where the schema's field is true or false and `value` is neither
    (nor null where the field may be unset): OmegaConf took `early_stop.enabled=2` (any whole number
    but 0, and yes / on) as true, where `maybe` was refused. A sweep's values are checked one by one
    (its points); `key` is a schema key naming a setting (check_not_section first)."""
    kind = _setting_type(key)
    word = value.strip().lower()
    if kind.replace("Optional[", "").rstrip("]") != "bool" or word in ("true", "false") or "," in word \
            or "(" in word or word.startswith("${") or (word == "null" and "Optional" in kind):
        return
    raise ConfigError(f"{key}={value}: accepted is true or false" + (", or null" if "Optional" in kind else ""))


def _setting_type(key: str) -> str:
    """The schema's type of the setting `key` names, as written (`bool`, `Optional[int]`)."""
    section: Any = TrainConfig
    *sections, leaf = key.split(".")
    for part in sections:
        section = _field_types(section)[part]
    return str(next(f.type for f in dataclasses.fields(section) if f.name == leaf))


def _field_types(cls: type) -> dict[str, Any]:
    """Field name -> its dataclass type (for sections) or None (values)."""
    return {f.name: f.default_factory if dataclasses.is_dataclass(f.default_factory) else None
            for f in dataclasses.fields(cls)}


# What a key a config leaves at ??? takes, said when it is not given.
MISSING_VALUE_HINTS = {
    "data.vocab_size": "the tokenizer's vocabulary size, + 1 with data.add_bos=true (`sweep prepare` says the right "
                       "value when it is wrong)",
}


def to_typed(cfg: DictConfig | TrainConfig) -> TrainConfig:
    """The composed DictConfig (without its `hydra` node) as TrainConfig dataclasses."""
    if isinstance(cfg, TrainConfig):
        return cfg
    cfg = _with_own_vocab_size(cfg)
    try:
        plain = {k: OmegaConf.to_container(cfg[k], resolve=True, throw_on_missing=True)
                 if OmegaConf.is_config(cfg[k]) else cfg[k] for k in cfg if k != "hydra"}
    except Exception as err:  # a missing value, most often
        key = getattr(err, "full_key", None)
        if isinstance(err, MissingMandatoryValue) and key:
            raise ConfigError(f"{key} has no value (??? in its config): give {key}=VALUE"
                              + (f"; {MISSING_VALUE_HINTS[key]}" if key in MISSING_VALUE_HINTS else "")) from err
        raise ConfigError(f"incomplete config: {err}") from err
    # Values were checked against the schema by OmegaConf; building the dataclasses directly
    # is much faster than OmegaConf.to_object, which matters for grids of hundreds of points.
    try:
        sections = {name: cls(**plain.pop(name)) for name, cls in _SECTIONS.items()}
        sections["data"].synthetic = SyntheticConfig(**sections["data"].synthetic)
        sections["logger"].start = WandbStartConfig(**sections["logger"].start)
        return TrainConfig(**sections, **plain)
    except TypeError:  # a key added with `+key=value` that the schema does not have
        _check_keys(cfg)
        raise


def _with_own_vocab_size(cfg: DictConfig) -> DictConfig:
    """`cfg` with data.vocab_size set to the tokenizer's own size (OWN_VOCAB_SIZES) where the config
    leaves it at ??? (data=hf data.tokenizer=byte: 257): only a tokenizer whose size the config cannot
    know (a pretrained one) needs data.vocab_size given. `cfg` itself is left as it is."""
    data = cfg.get("data")
    if (not isinstance(data, DictConfig) or not OmegaConf.is_missing(data, "vocab_size")
            or OmegaConf.is_missing(data, "tokenizer")):
        return cfg
    own = next((size for kind, size in OWN_VOCAB_SIZES.items() if data.tokenizer in (kind, kind.value)), None)
    if own is None:
        return cfg
    sized = copy.deepcopy(cfg)
    with read_write(sized):
        sized.data.vocab_size = own
    return sized


def _check_keys(cfg: DictConfig, prefix: str = "") -> None:
    """check_key for every key of a composed config (its `hydra` node aside)."""
    for name in cfg:
        if prefix or name != "hydra":
            check_key(f"{prefix}{name}")
            if OmegaConf.is_dict(cfg._get_node(name)):
                _check_keys(cfg._get_node(name), f"{prefix}{name}.")


def to_plain(cfg: TrainConfig) -> dict[str, Any]:
    """Plain dict (Enums as their names), for YAML files and hashing."""
    return _plain(dataclasses.asdict(cfg))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError for any value that cannot make a run. Cheap: no data is read.

    What only the data package knows (a tokenizer that goes with the source, a synthetic
    language that fits its vocabulary) is `sweep.data.checks.check_data`, which every caller
    runs right after this."""
    _check_finite(cfg)
    _check_model(cfg.model)
    _check_optim(cfg.optim)
    _check_run_settings(cfg)
    _check_train(cfg.train)
    _check_budget(cfg)
    _check_early_stop(cfg)
    _check_logger(cfg.logger)
    _check_data_settings(cfg.data, cfg.model)


def _check_model(m: ModelConfig) -> None:
    _positive("model.d", m.d)
    if m.l < 1:
        raise ConfigError(f"model.l={m.l}: depth must be an integer >= 1")
    _positive("model.head_dim", m.head_dim)
    if m.d % m.head_dim:
        raise ConfigError(
            f"model.d={m.d} is not a multiple of model.head_dim={m.head_dim}: "
            f"use a width in {{{m.head_dim}, {2 * m.head_dim}, {3 * m.head_dim}, ...}} "
            "or set model.head_dim to a divisor of it"
        )
    if m.head_dim % 2:
        raise ConfigError(f"model.head_dim={m.head_dim}: rotary embeddings need an even head dim")
    _positive("model.mlp_ratio", m.mlp_ratio)
    _positive("model.seq_len", m.seq_len)
    _positive("model.rope_base", m.rope_base)


def _check_optim(o: OptimConfig) -> None:
    _positive("optim.lr", o.lr)
    if o.weight_decay < 0:
        raise ConfigError(f"optim.weight_decay={o.weight_decay}: must be >= 0")
    for name, beta in (("optim.b1", o.b1), ("optim.b2", o.b2)):
        if not 0 <= beta < 1:
            raise ConfigError(f"{name}={beta}: must be in [0, 1)")
    if o.eps < 0:
        raise ConfigError(f"optim.eps={o.eps}: must be >= 0")
    if o.warmup_steps < 0:
        raise ConfigError(f"optim.warmup_steps={o.warmup_steps}: must be >= 0")
    if not 0 <= o.warmup_max_fraction <= 1:
        raise ConfigError(f"optim.warmup_max_fraction={o.warmup_max_fraction}: must be in [0, 1]")
    if not 0 <= o.final_lr_fraction <= 1:
        raise ConfigError(f"optim.final_lr_fraction={o.final_lr_fraction}: must be in [0, 1]")
    if o.grad_clip is not None and o.grad_clip <= 0:
        raise ConfigError(f"optim.grad_clip={o.grad_clip}: must be > 0, or null for no clipping")
    if not 0 < o.cooldown_fraction <= 1:
        raise ConfigError(f"optim.cooldown_fraction={o.cooldown_fraction}: must be in (0, 1]")
    if o.cooldown_shape not in COOLDOWN_SHAPES:
        raise ConfigError(f"optim.cooldown_shape={o.cooldown_shape}: accepted: {', '.join(COOLDOWN_SHAPES)}")


def _check_run_settings(cfg: TrainConfig) -> None:
    """The top-level settings: seed, out_dir, recipe, and the token caches' folder."""
    # numpy's generators take no negative seed, torch.manual_seed none of 2^63 or more: either after the folder is made
    if not 0 <= cfg.seed < 2**63:
        raise ConfigError(f"seed={cfg.seed}: accepted is a whole number in [0, 2^63)")
    if not str(cfg.out_dir).strip():  # '' puts ${out_dir}/token_cache at the file system's root
        raise ConfigError(f"out_dir={cfg.out_dir!r}: accepted is a folder path (the root of the run folders)")
    if cfg.recipe is not None and not str(cfg.recipe).strip():  # an empty label: a crossover's recipe without a name
        raise ConfigError(f"recipe={cfg.recipe!r}: accepted is a label (e.g. recipe=baseline), or null")
    if not str(cfg.data.cache_dir).strip():  # '' tokenized the corpus into the current folder
        raise ConfigError(f"data.cache_dir={cfg.data.cache_dir!r}: accepted is a folder path (the token caches; "
                          "default ${out_dir}/token_cache)")


def _check_train(t: TrainLoopConfig) -> None:
    _positive("train.batch_size", t.batch_size)
    _positive("train.log_every", t.log_every)
    _positive("train.eval_every", t.eval_every)
    _positive("train.checkpoint_every_minutes", t.checkpoint_every_minutes)
    if t.peak_tflops is not None and not t.peak_tflops > 0:
        raise ConfigError(f"train.peak_tflops={t.peak_tflops}: accepted: {FLOAT_RANGES['train.peak_tflops']}")
    if t.loss_chunk_tokens is not None and t.loss_chunk_tokens < 1:
        raise ConfigError(f"train.loss_chunk_tokens={t.loss_chunk_tokens}: must be >= 1 (tokens per chunk of the "
                          "fused head and loss), or null for the whole logits")
    if t.divergence_factor <= 1:
        raise ConfigError(
            f"train.divergence_factor={t.divergence_factor}: must be > 1 (a multiple of the "
            "loss ln(V) of a uniform guess)"
        )


def _check_budget(cfg: TrainConfig) -> None:
    b, o = cfg.budget, cfg.optim
    _positive("budget.tokens_per_param", b.tokens_per_param)
    if b.branch and o.schedule is not Schedule.wsd:
        raise ConfigError(f"budget.branch=true with optim.schedule={o.schedule.value}: cooldown branches need "
                          "optim.schedule=wsd (a cosine run decays over its whole length: nothing to share)")
    if not b.branch and (b.ladder_tokens_per_param is not None or b.trunk):
        raise ConfigError("budget.ladder_tokens_per_param and budget.trunk are set by the planner of a "
                          "budget.branch=true grid; leave them at null / false")
    if b.ladder_tokens_per_param is not None and b.ladder_tokens_per_param < b.tokens_per_param:
        raise ConfigError(f"budget.tokens_per_param={b.tokens_per_param:g} is above its ladder's largest "
                          f"budget.ladder_tokens_per_param={b.ladder_tokens_per_param:g}")


def _check_logger(logger: LoggerConfig) -> None:
    start = logger.start
    _positive("logger.start.attempts", start.attempts)
    _positive("logger.start.init_timeout_s", start.init_timeout_s)
    _positive("logger.start.max_total_s", start.max_total_s)
    if start.backoff_s < 0:
        raise ConfigError(f"logger.start.backoff_s={start.backoff_s}: must be >= 0")
    _check_wandb_names(logger)


def _check_data_settings(d: DataConfig, m: ModelConfig) -> None:
    """The data settings that need no data (sweep.data.checks.check_data has the rest)."""
    if d.eval_tokens < m.seq_len + 1:
        raise ConfigError(
            f"data.eval_tokens={d.eval_tokens}: the held-out split needs at least one sequence "
            f"of model.seq_len + 1 = {m.seq_len + 1} tokens"
        )
    if d.max_epochs is not None and d.max_epochs <= 0:
        raise ConfigError(f"data.max_epochs={d.max_epochs}: must be > 0, or null for any number of passes")
    _positive("data.density_documents", d.density_documents)
    if d.source is DataSource.synthetic:
        _positive("data.synthetic.documents_per_shard", d.synthetic.documents_per_shard)
    if d.source is DataSource.files:
        if not d.paths:
            raise ConfigError("data=files needs data.paths: a list of files, folders or globs")
        for p in d.paths:
            if not any(ch in p for ch in "*?[") and not Path(p).exists():
                raise ConfigError(f"data.paths: {p!r} does not exist")

# W&B's rules for the names a run is filed under, as wandb.init checks the project (wandb/sdk/
# wandb_settings.py validate_project). The entity is the part of a run's path before the project, so the
# same characters break it; the group names the report's artifacts (`<group>-report`), which refuse '/'.
WANDB_NAME_MAX_CHARS = 128
WANDB_FORBIDDEN_CHARS = {"logger.project": "/\\#?%:", "logger.entity": "/\\#?%:", "logger.group": "/"}
WANDB_NAME_DEFAULTS = {"logger.entity": "null: the API key's default entity",
                       "logger.group": "null: the sweep's name, the last part of out_dir"}


def _check_wandb_names(logger: LoggerConfig) -> None:
    """logger.project, .entity and .group as W&B accepts them, with logger=wandb: a name W&B refuses
    made every run of a sweep train untracked (W&B never stops training), a fixed mistake, not an outage."""
    if logger.kind is not LoggerKind.wandb:
        return
    for key, name in (("logger.project", logger.project), ("logger.entity", logger.entity),
                      ("logger.group", logger.group)):
        if name is None:  # entity and group only: their defaults
            continue
        forbidden = WANDB_FORBIDDEN_CHARS[key]
        found = [ch for ch in forbidden if ch in name]
        if name.strip() and len(name) <= WANDB_NAME_MAX_CHARS and not found:
            continue
        problem = (f"contains {' '.join(found)}" if found else
                   "is empty" if not name.strip() else f"has {len(name)} characters")
        default = f", or {WANDB_NAME_DEFAULTS[key]}" if key in WANDB_NAME_DEFAULTS else ""
        raise ConfigError(f"{key}={name!r} {problem}: W&B accepts a name of 1 to {WANDB_NAME_MAX_CHARS} "
                          f"characters without any of {' '.join(forbidden)}{default}")


def _check_early_stop(cfg: TrainConfig) -> None:
    e = cfg.early_stop
    if not 0 < e.fraction < 1:
        raise ConfigError(f"early_stop.fraction={e.fraction}: accepted is a fraction of each run's steps in (0, 1)")
    fractions = [e.fraction, *e.again_at]
    if any(not b > a for a, b in zip(fractions, fractions[1:])) or not all(f < 1 for f in fractions):
        example = [round(e.fraction + (1 - e.fraction) * k / 3, 2) for k in (1, 2)]  # valid at this fraction
        raise ConfigError(f"early_stop.again_at={list(e.again_at)}: accepted are fractions of each run's steps, "
                          f"increasing, above early_stop.fraction={e.fraction} and below 1 (e.g. {example})")
    if not 0 <= e.margin < 1:
        raise ConfigError(f"early_stop.margin={e.margin}: accepted is a relative margin in [0, 1) (0.01: 1% of "
                          "the best run's predicted loss)")
    from sweep.fit.defaults import fit_defaults

    fit_defaults().check_resamples(e.resamples, "early_stop.resamples", 1)  # was a 67 GiB allocation after the probes
    if e.beaten_by < 1:
        raise ConfigError(f"early_stop.beaten_by={e.beaten_by}: accepted is an integer >= 1 (how many members a "
                          "stopped run must be clearly worse than; 1: the surest one alone)")
    if not 0 < e.level < 1:
        raise ConfigError(f"early_stop.level={e.level}: accepted is an interval level in (0, 1)")
    from sweep.fit.collapse import TRUE_FLOOR, check_floor

    if check_floor(e.floor, "early_stop.floor") == TRUE_FLOOR and cfg.data.source is not DataSource.synthetic:
        raise ConfigError(f"early_stop.floor=true with data={cfg.data.source.value}: the true entropy rate is known "
                          "only for data=synthetic; accepted here: early_stop.floor=auto (calibrated on the finished "
                          "smaller runs) or a number (E in nats/token, e.g. from a Chinchilla fit)")
    if not e.enabled:
        return
    if cfg.budget.branch:
        raise ConfigError("early_stop.enabled=true with budget.branch=true: a cooldown-branch ladder is not "
                          "early-stopped; set one of them to false")
    o = cfg.optim
    if o.schedule is Schedule.wsd and e.fraction < 1 - o.cooldown_fraction:
        raise ConfigError(f"early_stop.fraction={e.fraction} with optim.schedule=wsd: before the cooldown "
                          f"(the last optim.cooldown_fraction={o.cooldown_fraction} of the steps) the loss-curve "
                          "law cannot tell how much the decay will lower the loss; use optim.schedule=cosine or "
                          f"early_stop.fraction >= {1 - o.cooldown_fraction:g}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name}={value}: must be > 0")


def _check_finite(cfg: TrainConfig) -> None:
    """inf and nan pass every range check written as a comparison: refuse them first, for every
    float field of the schema, naming the value and the accepted range."""
    for name, value in _float_fields(cfg):
        if value is not None and not math.isfinite(value):
            accepted = FLOAT_RANGES.get(name)
            raise ConfigError(f"{name}={value}: must be a finite number" + (f"; accepted: {accepted}" if accepted else ""))


# What validate accepts for each float field (named when inf or nan is given).
FLOAT_RANGES = {
    "model.rope_base": "> 0",
    "optim.lr": "> 0",
    "optim.weight_decay": ">= 0",
    "optim.b1": "[0, 1)",
    "optim.b2": "[0, 1)",
    "optim.eps": ">= 0",
    "optim.warmup_max_fraction": "[0, 1]",
    "optim.final_lr_fraction": "[0, 1]",
    "optim.grad_clip": "> 0, or null for no clipping",
    "train.checkpoint_every_minutes": "> 0",
    "train.divergence_factor": "> 1",
    "train.peak_tflops": "> 0, or null (datasheet or measured)",
    "budget.tokens_per_param": "> 0",
    "data.max_epochs": "> 0, or null for any number of passes",
    "data.synthetic.eos_prob": "(0, 1)",
    "data.synthetic.zipf": ">= 0",
    "data.synthetic.repeat_fraction": "[0, 1)",
    "optim.cooldown_fraction": "(0, 1]",
    "early_stop.fraction": "(0, 1)",
    "early_stop.margin": "[0, 1)",
    "early_stop.level": "(0, 1)",
    "logger.start.backoff_s": ">= 0",
    "logger.start.init_timeout_s": "> 0",
    "logger.start.max_total_s": "> 0",
}


def _float_fields(cfg: Any, prefix: str = "") -> list[tuple[str, float | None]]:
    """(dotted name, value) of every float-typed field, nested sections included."""
    found = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            found.extend(_float_fields(value, f"{prefix}{f.name}."))
        elif isinstance(value, float):
            found.append((f"{prefix}{f.name}", value))
    return found


def train_config(plain: dict[str, Any], where: str, remedy: str) -> TrainConfig:
    """A run's config (a plain mapping) as a TrainConfig; a setting it lacks (a run from before the
    setting existed) takes its default in conf/train.yaml. DamagedFile naming `where` and the
    `remedy` when it is not a config of this version."""
    from importlib.resources import files

    defaults = OmegaConf.create(files("conf").joinpath("train.yaml").read_text())
    defaults = {k: v for k, v in defaults.items() if k not in ("defaults", "hydra")}
    try:
        return to_typed(OmegaConf.merge(OmegaConf.structured(TrainConfig), defaults, plain))
    except Exception as err:  # a setting the schema does not know, a value of the wrong type
        raise DamagedFile(where, f"not a config of this version ({type(err).__name__}: "
                          f"{str(err).splitlines()[0]})", remedy) from None
