"""The claims `python -m minisgd report` audits: for each, the experiment script that tests
it, the claim in one line, its data, the arguments of each scale, a rough wall time per
scale on a 2-core machine (for the progress estimate only), and where our setup departs
from the paper's. Full is each script's default (plus --seeds where the default runs one
seed, so that every verdict has a spread); quick is a reduced protocol that still shows
the effect or its absence. Not for: running them (audit.py) or the page (render.py).
"""
from dataclasses import dataclass, field

SCALES = ("quick", "full")


@dataclass(frozen=True)
class Claim:
    name: str                    # folder under --out, and the --only key
    script: str                  # experiments/<script>.py
    claim: str                   # the claim, in one line
    data: str                    # what it runs on
    quick: tuple = ()            # the script's arguments at --scale quick
    full: tuple = ()             # ... at --scale full
    times: tuple = (30, 120)     # rough wall seconds at quick / full on 2 cores
    departs: str = ""            # where our setup departs from the paper's
    section: str = ""            # docs/science.md section
    verdict_args: dict = field(default_factory=dict)   # keyword arguments of verdict()
    dataset: str = None          # the real dataset it reads (its package must be installed)
    quick_note: str = ""         # what the quick protocol cannot show (printed at quick scale)

    def args(self, scale):
        return self.quick if scale == "quick" else self.full

    def seconds(self, scale):
        return self.times[0] if scale == "quick" else self.times[1]


SYNTHETIC = [
    Claim("support", "support",
          "mini-batch SGD shrinks the first-layer weights of irrelevant inputs, faster at "
          "smaller batches; GD does not without weight decay or a group-L1 prox",
          "d = 15, S = {0..4}, linear target, n = 5000 (the paper's)",
          quick=("--quick", "--seeds", "2"), full=("--seeds", "3"), times=(17, 78),
          section="1",
          departs="one hidden layer of the paper's width and the paper's scale; our own draws "
                  "of data and init; 8 seeds where the published figure shows one"),
    Claim("eta_over_b", "eta_over_b",
          "the irrelevant weights shrink at a rate set by eta/b: runs of equal eta/b collapse "
          "against eta t", "the headline setup, n = 1000", times=(8, 8), section="1",
          departs="n = 1000 and an eta t budget of 1000 (the paper: n = 5000, 10000)"),
    Claim("modified_loss", "modified_loss",
          "GD on the SGD-modified loss C + (eta/4)||grad C||^2 + noise term follows SGD",
          "the headline setup, n = 1000, b = 8", quick=("--sgd-orders", "2"), times=(28, 28),
          section="1",
          departs="n = 1000, 2000 steps; the modified loss's gradient computed exactly"),
    Claim("init_dependence", "init_dependence",
          "smaller batches forget the initialization: the learned first layers agree across "
          "seeds", "the headline setup, n = 1000, 16 seeds", times=(11, 11), section="1"),
    Claim("variants", "variants",
          "SGD beats GD at shrinking irrelevant weights in other nets, targets and inputs",
          "ReLU / tanh nets, sine / staircase targets, scattered support, Rademacher, d = 100",
          times=(10, 9), section="1"),
    Claim("large_steps_diag", "large_steps_diag",
          "large steps, then decay, give a sparser diagonal-net predictor",
          "sparse regression, n = 80, d = 200, r = 20 (tml-epfl/sgd-sparse-features)",
          quick=("--data-seeds", "2", "--sgd-seeds", "5", "--no-published-draw"),
          times=(25, 46), section="2",
          quick_note="10 paired runs: the sign tests need most of them to agree (full: 16)"),
    Claim("large_steps_relu", "large_steps_relu",
          "large steps, then decay, give sparser ReLU features and better generalization",
          "two- and three-layer teacher-student ReLU nets (the published setups)",
          quick=("--data-seeds", "2", "--seeds", "3", "--steps", "5000"),
          times=(10, 24), section="2"),
    Claim("low_rank", "low_rank",
          "SGD + weight decay on the square loss gives low-rank layers: lower for larger "
          "weight decay and steps, smaller batches; none without weight decay",
          "ReLU MLP 6 x 64 with weight norm, Gaussian-mixture classes, mse on one-hot",
          quick=("--seeds", "2", "--steps", "5000", "--lrs", "0.1,0.4", "--wds", "0,1e-4,3e-4",
                 "--batch-sizes", "4,16,64"), full=("--seeds", "3"),
          times=(40, 293), section="3"),
    Claim("sgd_noise", "sgd_noise",
          "with weight decay, SGD's relative update size settles at a non-zero floor; "
          "without, an interpolating run comes to rest",
          "as low_rank", quick=("--steps", "5000"), times=(39, 127), section="3",
          quick_note="5000 updates come before the floor forms (it takes ~3/(eta lambda) "
                     "updates): the quick verdict says whether it has started; the full "
                     "run's 20000 show it"),
    Claim("neural_collapse", "neural_collapse",
          "SGD + weight decay + weight norm on the square loss drives the last hidden layer "
          "to neural collapse (NC1-NC4)", "as low_rank, trained 4x longer",
          quick=("--steps", "20000"), times=(23, 82),
          quick_note="20000 updates: collapse with weight decay is still forming (the full "
                     "run trains 4x longer)",
          section="3"),
    Claim("random_label_pretraining", "random_label_pretraining",
          "pretraining on random labels leads SGD to worse-generalizing minima unless there "
          "is explicit regularization", "Gaussian-mixture classes, ReLU MLP",
          quick=("--seeds", "2"), times=(37, 69), section="4"),
    Claim("sgd_noise_shape", "sgd_noise_shape",
          "SGD noise is anisotropic and aligned with the curvature; its tails are heavy",
          "the headline regression and a classifier, exact Hessians", quick=("--quick",),
          times=(28, 55),
          section="5"),
]

REAL = [           # the real-data versions (docs/science.md section 6)
    Claim("support_digits", "support_real",
          "on real digits with known noise inputs, SGD shrinks the noise inputs' first-layer "
          "weights beyond GD, more for larger eta/b",
          "scikit-learn digits + 64 noise inputs, 128 -> 64 -> 10 ReLU, mse",
          quick=("--seeds", "2", "--steps", "2500"), times=(21, 57),
          dataset="digits", section="6.1",
          departs="noise inputs appended as the known irrelevant ones; a one-hidden-layer "
                  "ReLU classifier; equal eta x steps in every arm"),
    Claim("low_rank_mnist", "low_rank",
          "on MNIST, SGD + weight decay on the square loss lowers the hidden layers' rank "
          "(weight decay, step size, batch size at equal updates)",
          "MNIST (1000 training rows), 784 -> 64 x 4 -> 10 WN, mse",
          quick=("--dataset", "mnist", "--seeds", "2", "--steps", "2000"),
          full=("--dataset", "mnist"), times=(19, 54), dataset="mnist", section="6.2",
          departs="a 4 x 64 net and 1000 rows instead of 10 x 100 on all of MNIST; constant step"),
    Claim("sgd_noise_mnist", "sgd_noise",
          "on MNIST, with weight decay SGD's update size settles at a floor above the "
          "no-weight-decay level", "as low_rank_mnist",
          quick=("--dataset", "mnist", "--seeds", "2", "--steps", "5000"),
          full=("--dataset", "mnist"), times=(38, 57), dataset="mnist", section="6.2",
          departs="5000 updates: about 1/(eta lambda), so the floor may not be reached"),
    Claim("neural_collapse_mnist", "neural_collapse",
          "on MNIST, weight decay (+ weight norm) drives the last hidden layer to neural "
          "collapse", "as low_rank_mnist, 20000 updates",
          quick=("--dataset", "mnist", "--seeds", "2", "--steps", "5000"),
          full=("--dataset", "mnist"), times=(12, 46), dataset="mnist", section="6.2",
          departs="320 epochs of a 1000-row subset; an MLP instead of the published nets"),
    Claim("random_label_pretraining_mnist", "random_label_pretraining",
          "on MNIST, pretraining on the published random-label set lowers test accuracy "
          "unless there is explicit regularization",
          "MNIST (1000 training rows), 784 -> 128 -> 128 -> 10, cross-entropy",
          quick=("--dataset", "mnist", "--seeds", "2", "--steps", "2000"),
          full=("--dataset", "mnist"), times=(30, 108), dataset="mnist", section="6.3",
          departs="an MLP on 1000 MNIST images instead of ResNets on CIFAR-10; no momentum; "
                  "128 epochs"),
    Claim("large_steps_mnist1d", "large_steps_relu",
          "on MNIST-1D, a large step kept longer before its decay gives sparser features and "
          "lower test error", "MNIST-1D, 40 -> 100 -> 100 -> 10 ReLU, cross-entropy",
          quick=("--dataset", "mnist1d", "--seeds", "2"),
          full=("--dataset", "mnist1d"), times=(45, 103),
          dataset="mnist1d", section="6.4",
          departs="an MLP on MNIST-1D instead of ResNet-18 on CIFAR-10; no momentum, weight "
                  "decay or augmentation"),
]

CLAIMS = SYNTHETIC + REAL
