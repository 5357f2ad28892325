"""Five short, fictional ML papers that paperbrief writes itself as PDFs.

They give the demo and the tests real PDFs without any download: one- and two-column layouts,
running headers and page numbers to drop, captions, a references list, an appendix and a line-end
hyphen to mend. The text lives here as data (`SAMPLE_PAPERS`) so tests can compare what the
extractor reads against what was written. Only base-14 fonts are used, so no font files are needed,
and the bytes are the same on every run.

    python -m pipeline.samples OUT_DIR
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from pipeline.cache import write_atomic


@dataclass(frozen=True)
class Table:
    caption: str
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    caption: str


Block = str | Table | Figure


@dataclass(frozen=True)
class SampleSection:
    heading: str  # as printed, numbering included: "3.1 Draft trees"
    blocks: tuple[Block, ...]

    @property
    def paragraphs(self) -> list[str]:
        return [b for b in self.blocks if isinstance(b, str)]


@dataclass(frozen=True)
class SamplePaper:
    stem: str
    title: str
    authors: tuple[str, ...]
    affiliations: tuple[str, ...]
    abstract: str
    sections: tuple[SampleSection, ...]
    references: tuple[str, ...]
    columns: int
    running_header: str
    abstract_style: str = (
        "heading"  # "heading", "inline" ("Abstract. ...") or "dash" ("Abstract—...")
    )
    full_width_abstract: bool = True
    sans: bool = False
    appendix: tuple[SampleSection, ...] = ()
    # Words the line breaker may split at the given position when they overflow a line.
    hyphenate: dict[str, int] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.stem}.pdf"


def _s(heading: str, *blocks: Block) -> SampleSection:
    return SampleSection(heading, blocks)


SPECULATIVE = SamplePaper(
    stem="sample-draft-trees",
    title="Draft Trees with Adaptive Depth for Faster Speculative Decoding",
    authors=("Maya Okafor", "Daniel Reyes", "Lin Zhao"),
    affiliations=("Northbridge Institute of Technology", "Halcyon AI Research"),
    abstract=(
        "Speculative decoding speeds up autoregressive generation by letting a small draft model "
        "propose several tokens that a large target model verifies in a single forward pass. "
        "Most systems draft a fixed number of tokens along one path, which wastes verification "
        "compute when the draft model is unsure and stops too early when it is confident. We "
        "present AdaTree, a drafting scheme that grows a token tree whose depth and branching "
        "adapt to the draft model's own entropy at every step. A lightweight controller, trained "
        "once per model pair on 2,000 prompts, decides when another level of the tree is worth "
        "verifying. On a 70B target model with a 1B draft model, AdaTree reaches a mean accepted "
        "length of 4.6 tokens per verification step, compared with 3.1 for standard speculative "
        "sampling and 3.9 for a static tree of the same size. End-to-end, this gives a 2.8x "
        "wall-clock speedup over plain decoding on chat prompts and 3.2x on code completion, "
        "with outputs that are identical in distribution to the target model. The controller "
        "adds less than 1% overhead per step."
    ),
    columns=2,
    full_width_abstract=False,
    running_header="AdaTree: Adaptive Draft Trees for Speculative Decoding",
    hyphenate={
        "representation": 8,
        "verification": 6,
        "distribution": 7,
        "acceptance": 6,
        "throughput": 5,
        "configuration": 6,
        "controller": 7,
        "experiments": 6,
        "sequential": 5,
        "probability": 5,
    },
    sections=(
        _s(
            "1 Introduction",
            "Large language models generate text one token at a time, and each token requires a "
            "full forward pass through billions of parameters. At small batch sizes this process "
            "is limited by memory bandwidth rather than arithmetic: the accelerator spends most "
            "of each step reading weights, while its compute units sit largely idle. Speculative "
            "decoding exploits this slack. A cheap draft model proposes a short continuation, "
            "the target model scores every proposed position in parallel, and a rejection "
            "sampling rule keeps the longest prefix that the target model would have produced "
            "itself. Because the rule is exact, the output distribution does not change.",
            "The speedup depends on how many drafted tokens survive verification. Drafting too few "
            "leaves parallelism unused, while drafting too many spends verification compute on "
            "tokens that are almost certain to be rejected. Tree-based drafting improves the odds "
            "by verifying several alternative continuations at once, but current systems fix the "
            "shape of the tree in advance and apply it to every prompt and every position.",
            "We argue that the right tree shape changes from token to token. After an opening "
            "brace in code, the next few tokens are nearly deterministic and a deep, narrow tree "
            "is ideal; in the middle of an open-ended answer, a shallow and wide tree hedges "
            "between plausible phrasings. Our contributions are a drafting algorithm whose tree "
            "grows according to the draft model's predictive entropy, a controller that decides "
            "when to stop growing, and an evaluation across chat, code and summarization "
            "workloads showing consistent gains over fixed trees.",
        ),
        _s(
            "2 Related Work",
            "Speculative sampling was introduced as a way to accelerate decoding without changing "
            "the sampled distribution [1, 2]. Later work replaced the separate draft model with "
            "extra prediction heads on the target model [3] or with retrieval from the prompt "
            "itself [4]. Tree attention makes it possible to verify many candidate sequences in "
            "one pass by arranging them as a tree and masking attention accordingly [5]. Our work "
            "keeps the standard two-model setup and focuses on the shape of the tree, which is "
            "orthogonal to how the candidates are produced.",
        ),
        _s(
            "3 Method",
            "AdaTree builds the draft tree level by level. At each level the draft model expands "
            "the current frontier, and the controller decides whether the expected number of "
            "additional accepted tokens justifies another level. The target model then verifies "
            "the whole tree in a single batched forward pass.",
        ),
        _s(
            "3.1 Entropy-guided branching",
            "For every frontier node we compute the entropy of the draft model's next-token "
            "distribution. Nodes with entropy below 0.5 nats receive a single child, nodes between "
            "0.5 and 2.0 nats receive two children, and nodes above 2.0 nats receive three. The "
            "total number of nodes is capped at 64, which matches the point where verification "
            "latency on our hardware starts to grow with tree size.",
        ),
        _s(
            "3.2 Depth controller",
            "The controller is a two-layer perceptron with 4,096 parameters. Its input is the "
            "cumulative acceptance probability estimated along each frontier path and the current "
            "depth; its output is the probability that expanding one more level increases the "
            "accepted length. We train it with a logistic loss on traces from 2,000 prompts and "
            "stop expanding when its output falls below 0.35. Training takes eleven minutes on a "
            "single accelerator and is needed once per pair of draft and target models.",
        ),
        _s(
            "4 Experiments",
            "We evaluate on three workloads: 1,000 chat prompts from a public assistant dataset, "
            "800 code completion tasks and 500 news summarization inputs. The target model has 70B "
            "parameters and the draft model 1B; both share a tokenizer. All runs use batch size 1, "
            "temperature 0.7 and a maximum of 512 new tokens. We compare against plain "
            "autoregressive decoding, standard speculative sampling with four drafted tokens, and "
            "a static tree with the same 64-node budget as AdaTree.",
            Table(
                "Table 1: Mean accepted tokens per verification step and wall-clock speedup over "
                "plain decoding, averaged over three runs.",
                (
                    ("Method", "Chat", "Code", "Summ.", "Speedup"),
                    ("Speculative sampling", "3.1", "3.4", "2.9", "2.0x"),
                    ("Static tree (64)", "3.9", "4.3", "3.5", "2.4x"),
                    ("AdaTree (ours)", "4.6", "5.2", "4.1", "2.9x"),
                ),
            ),
            "AdaTree accepts 4.6 tokens per step on chat, 48% more than standard speculative "
            "sampling and 18% more than the static tree. The gap is largest on code, where long "
            "deterministic stretches let the controller grow trees up to nine levels deep. On "
            "summarization the gains are smaller because many tokens are copied from the source "
            "and even a single path is accepted often. Measured end to end, AdaTree improves "
            "throughput from 21 to 59 tokens per second on chat prompts, a 2.8x speedup, and "
            "reaches 3.2x on code. Ablating the controller and always building the deepest tree "
            "reduces the chat speedup to 2.3x, because verification of unlikely branches then "
            "dominates the step time.",
        ),
        _s(
            "5 Conclusion",
            "Adapting the draft tree to the draft model's uncertainty is a simple change that "
            "makes speculative decoding noticeably faster without touching either model. The "
            "controller is cheap to train and to run, and the output distribution is unchanged. "
            "A natural next step is to share one controller across model pairs of the same family.",
        ),
    ),
    references=(
        "[1] A. Lindqvist and R. Moreau. Fast inference from transformers via speculative "
        "decoding. In Proceedings of the International Conference on Machine Learning, 2023.",
        "[2] K. Banerjee, T. Holt, and S. Ito. Accelerating large language model decoding with "
        "speculative sampling. arXiv preprint, 2023.",
        "[3] P. Castillo, J. Wen, and M. Adeyemi. Multiple decoding heads for parallel token "
        "prediction. In Advances in Neural Information Processing Systems, 2024.",
        "[4] H. Sato and L. Brennan. Prompt lookup drafting for retrieval-heavy generation. In "
        "Findings of the Association for Computational Linguistics, 2024.",
        "[5] E. Novak, F. Duarte, and Y. Kim. Tree attention for verifying many drafts at once. "
        "In Conference on Machine Learning and Systems, 2024.",
        "[6] R. Mehta and O. Lindgren. Memory-bound inference on modern accelerators. Technical "
        "report, 2022.",
    ),
)

DISTILL = SamplePaper(
    stem="sample-reward-aware-distillation",
    title="Reward-Aware Distillation of Reasoning Policies into Small Language Models",
    authors=("Priya Raman", "Tomasz Wielgosz", "Hannah Cole", "Kenji Arai"),
    affiliations=("Department of Computer Science, Lakeshore University", "Meridian Labs"),
    abstract=(
        "Small language models distilled from larger ones imitate their teacher's reasoning "
        "traces, but imitation treats every trace as equally good, including long detours and "
        "traces that reach wrong answers. We propose reward-aware distillation (RAD), which "
        "combines token-level distillation from a teacher with a reinforcement learning signal "
        "from an answer verifier. RAD weights each teacher trace by a learned advantage, "
        "discards traces whose final answer fails verification, and adds a length penalty that "
        "discourages the student from copying redundant steps. We distill a 32B teacher into "
        "students of 1.5B and 7B parameters on 120,000 mathematics and logic problems. The 7B "
        "student trained with RAD solves 71.4% of a held-out competition mathematics set, up "
        "from 63.2% with standard distillation and 66.8% with reinforcement learning alone, "
        "while producing answers that are 31% shorter. The 1.5B student gains 9.6 points over "
        "its distilled baseline. We find that filtering wrong traces matters most at small "
        "scale, while the advantage weighting matters most for the larger student."
    ),
    columns=1,
    running_header="Reward-Aware Distillation for Small Reasoners",
    sections=(
        _s(
            "1 Introduction",
            "Reasoning models produce long chains of intermediate steps before giving an answer, "
            "and these chains are expensive to generate at the scale of the largest models. "
            "Distilling the behaviour into a small student is an attractive way to make it "
            "affordable. The usual recipe samples traces from the teacher and fine-tunes the "
            "student to imitate them token by token. This works surprisingly well, but it "
            "inherits every flaw of the teacher: traces that wander, traces that repeat a "
            "calculation three times, and traces that confidently reach the wrong result.",
            "Reinforcement learning against a verifier addresses the last problem directly, "
            "because the reward only depends on whether the final answer is correct. On its own, "
            "however, reinforcement learning from a small model's own samples explores slowly and "
            "rarely discovers the strategies that the teacher already knows. Our method, RAD, "
            "uses both signals. The teacher provides dense supervision on how to reason, and the "
            "verifier decides which of the teacher's traces deserve to be imitated and how much.",
        ),
        _s(
            "2 Method",
            "For each training problem we sample eight traces from the teacher at temperature "
            "0.8 and check each final answer with a symbolic verifier. Traces that fail "
            "verification are dropped. The remaining traces are weighted by an advantage "
            "estimate: the verifier reward minus the mean reward of the student's own samples on "
            "the same problem, so that problems the student already solves contribute little. "
            "The student loss is the advantage-weighted cross-entropy on teacher tokens plus a "
            "policy-gradient term on the student's own samples, mixed with a coefficient of 0.3.",
            "Long traces are not always better. We add a penalty of 0.002 per generated token "
            "beyond the median length of correct teacher traces for the problem. Without it, the "
            "student learns to pad its reasoning, because longer traces are slightly more likely "
            "to contain a correct answer somewhere.",
        ),
        _s(
            "3 Experiments",
            "The teacher is a 32B reasoning model. Students start from 1.5B and 7B base models and "
            "are trained for two epochs on 120,000 problems drawn from mathematics competitions, "
            "grade-school word problems and logic puzzles. We evaluate on a held-out set of 500 "
            "competition mathematics problems and report exact-match accuracy with greedy "
            "decoding. Baselines are standard sequence-level distillation (SD), reinforcement "
            "learning with the verifier reward alone (RL), and SD followed by RL.",
            Table(
                "Table 1: Accuracy (%) on held-out competition mathematics and mean answer length "
                "in tokens for the 7B student.",
                (
                    ("Method", "1.5B acc.", "7B acc.", "7B length"),
                    ("Standard distillation", "41.0", "63.2", "1,840"),
                    ("RL only", "36.5", "66.8", "1,310"),
                    ("SD then RL", "44.1", "68.0", "1,520"),
                    ("RAD (ours)", "50.6", "71.4", "1,270"),
                ),
            ),
            "RAD improves the 7B student by 8.2 points over standard distillation and by 3.4 "
            "points over the sequential SD then RL pipeline, at the same training budget of "
            "roughly 900 accelerator hours. Answers are 31% shorter than with standard "
            "distillation. For the 1.5B student the improvement is 9.6 points. Removing the "
            "filter on wrong traces costs the 1.5B student 6.1 points but the 7B student only 1.9 "
            "points, which suggests that small models are far more easily misled by confident "
            "mistakes. Removing the advantage weighting has the opposite pattern and costs the "
            "7B student 3.0 points.",
        ),
        _s(
            "4 Limitations",
            "RAD needs an automatic verifier, which exists for mathematics and code but not for "
            "most open-ended tasks. Our held-out set comes from the same competitions as part of "
            "the training data, so the gains may be smaller on problems of a different style. We "
            "also did not study teachers larger than 32B parameters.",
        ),
        _s(
            "5 Conclusion",
            "Treating distillation data as evidence to be weighed rather than text to be copied "
            "gives small reasoning models a substantial boost. RAD is simple to implement on top "
            "of an existing distillation pipeline and makes students both more accurate and more "
            "concise.",
        ),
    ),
    references=(
        "[1] G. Hinton-Sloane, O. Vance, and J. Dekker. Distilling the knowledge in a neural "
        "network, revisited. Journal of Machine Learning Research, 24(3):1-29, 2023.",
        "[2] M. Ferreira and A. Kowalczyk. Step-by-step distillation of chain-of-thought "
        "reasoning. In Proceedings of ACL, 2023.",
        "[3] S. Osei, L. Marchetti, and D. Park. Verifier-guided reinforcement learning for "
        "mathematical reasoning. In International Conference on Learning Representations, 2024.",
        "[4] Y. Tanaka and R. Bose. Policy gradients for language models with sparse rewards. "
        "Transactions on Machine Learning Research, 2024.",
        "[5] C. Duval, N. Haddad, and E. Strand. Length bias in reward-trained reasoning models. "
        "arXiv preprint, 2025.",
        "[6] J. Whitfield and X. Luo. A benchmark of competition mathematics for language "
        "models. In NeurIPS Datasets and Benchmarks Track, 2023.",
        "[7] A. Ivanova. On-policy distillation for sequence models. In Proceedings of EMNLP, "
        "2024.",
    ),
)

TOOLGUARD = SamplePaper(
    stem="sample-toolguard",
    title="ToolGuard: Isolating Untrusted Tool Outputs to Defend Agents Against Prompt Injection",
    authors=("Samuel Achterberg", "Ines Vidal", "Omar Haddad"),
    affiliations=("Security and Privacy Group, Kestrel University",),
    abstract=(
        "Language model agents that call tools read text written by strangers: web pages, "
        "emails, issue trackers and search results. Any of that text can carry instructions "
        "that hijack the agent, an attack known as indirect prompt injection. We present "
        "ToolGuard, a defense that never lets tool output reach the planning model as "
        "instructions. A planner sees only typed summaries of tool results produced by a "
        "separate quarantined model, and every action the planner proposes is checked against "
        "a policy derived from the user's original request. On a benchmark of 629 injection "
        "attacks across email, calendar, browsing and file tasks, ToolGuard lowers the attack "
        "success rate from 47.3% for an undefended agent and 12.8% for the strongest prompting "
        "defense to 1.1%, while completing 88.5% of benign tasks compared with 92.0% without any "
        "defense. The extra model calls add a median latency of 0.9 seconds per task. We "
        "release the policy language and the attack suite."
    ),
    columns=2,
    full_width_abstract=True,
    sans=True,
    running_header="ToolGuard: Isolating Untrusted Tool Outputs",
    sections=(
        _s(
            "1 Introduction",
            "An agent that summarizes a user's inbox has to read every message in it. If one "
            "message says that the assistant should forward the last invoice to an outside "
            "address, a model that treats all text in its context as potential instructions may "
            "do exactly that. Such indirect prompt injections are hard to filter because the "
            "malicious text looks like ordinary content, and detectors trained on known attacks "
            "miss paraphrased ones.",
            "Instead of detecting injected text, ToolGuard makes it harmless. The planning model "
            "that chooses actions never reads raw tool output. A second, quarantined model reads "
            "the output and returns a summary that must fit a schema chosen by the planner, such "
            "as a list of dates or a yes-or-no answer. Free text can still flow to the user, but "
            "it cannot change which tools are called or with which arguments, because every call "
            "is checked against a policy derived from the original request.",
            Figure(
                "Figure 1: ToolGuard separates the planner, which sees the user request and typed "
                "summaries, from the quarantined reader, which sees raw tool output."
            ),
        ),
        _s(
            "2 Threat Model",
            "The attacker controls the content of some tool results but not the user's request, "
            "the system prompt or the tool implementations. The attacker succeeds if the agent "
            "performs an action that the user did not ask for, such as sending data to a new "
            "recipient, deleting files or visiting an attacker-chosen address. We do not consider "
            "attacks that only change the wording of the final answer shown to the user.",
        ),
        _s(
            "3 Design",
            "The planner receives the user request and produces a plan as a sequence of tool "
            "calls whose arguments may refer to variables. When a tool returns, its output is "
            "stored in a variable and handed to the quarantined reader together with the schema "
            "the planner asked for. The reader's answer is validated against the schema before "
            "the planner sees it, so a reader that has been hijacked can at worst return a wrong "
            "value of the right type.",
            "The policy checker compares each proposed call with capabilities extracted from the "
            "request. A request to summarize unread email grants reading the inbox but not "
            "sending mail; a request to reply to Alice grants sending exactly one message to "
            "Alice's address. Calls outside the granted capabilities are blocked and reported to "
            "the user, who can approve them explicitly.",
        ),
        _s(
            "4 Results",
            "We run every defense with the same planner model on 629 attack scenarios and 400 "
            "benign tasks. An undefended agent follows the injected instructions in 47.3% of the "
            "scenarios. Prompting defenses that wrap tool output in delimiters or repeat the "
            "user's request reduce this to between 12.8% and 23.5%. A fine-tuned injection "
            "detector reaches 8.4% but also flags 6.2% of benign tool outputs. ToolGuard reduces "
            "attack success to 1.1%, and all seven remaining successes involve the reader "
            "returning a wrong but well-typed value, such as a modified date.",
            Table(
                "Table 1: Attack success rate (ASR, lower is better) and benign task completion "
                "(higher is better) on our benchmark.",
                (
                    ("Defense", "ASR", "Benign"),
                    ("None", "47.3%", "92.0%"),
                    ("Delimiters", "23.5%", "91.4%"),
                    ("Request repetition", "12.8%", "90.8%"),
                    ("Injection detector", "8.4%", "86.1%"),
                    ("ToolGuard", "1.1%", "88.5%"),
                ),
            ),
            "Benign completion drops from 92.0% to 88.5%. Most failures are tasks that need the "
            "planner to act on free text, for example choosing which of several messages deserves "
            "a reply, where a fixed schema loses information. The median added latency is 0.9 "
            "seconds, mainly from the extra reader calls.",
        ),
        _s(
            "5 Conclusion",
            "Separating the model that decides from the model that reads untrusted text, and "
            "checking actions against the user's intent, removes almost all indirect prompt "
            "injections in our benchmark at a modest cost in task completion. Richer schemas "
            "that preserve more information without reintroducing free text are the main open "
            "problem.",
        ),
    ),
    references=(
        "[1] L. Abernathy, K. Mwangi, and P. Rossi. Not what you signed up for: indirect prompt "
        "injection against integrated applications. In ACM Workshop on AI Security, 2023.",
        "[2] T. Nakamura and F. Oyelaran. A benchmark for prompt injection in tool-using "
        "agents. In NeurIPS Datasets and Benchmarks Track, 2024.",
        "[3] R. Gallagher, M. Sousa, and H. Li. Dual-model patterns for safer agents. arXiv "
        "preprint, 2024.",
        "[4] D. Kowalski and A. Petrenko. Capability-based security for language model tools. In "
        "IEEE Symposium on Security and Privacy, 2025.",
        "[5] S. Haddock. Instruction hierarchies for chat models. Technical report, 2024.",
    ),
)

RAG_EVAL = SamplePaper(
    stem="sample-rag-evaluation",
    title=(
        "Measuring What Retrieval Buys: A Controlled Evaluation of Retrieval-Augmented Generation"
    ),
    authors=("Elena Marchetti", "Jonah Feld"),
    affiliations=("Center for Language Technology, Westmere College",),
    abstract=(
        "Retrieval-augmented generation is usually evaluated end to end, which makes it hard to "
        "tell whether a better score comes from the retriever, the reader or the way the two "
        "interact. We build a controlled evaluation in which the gold evidence for each of "
        "3,200 questions is known, so that we can insert it into the context at a chosen rank, "
        "surround it with a chosen number of distractors, or leave it out. Across six reader "
        "models from 7B to 70B parameters, moving the gold passage from the first to the tenth "
        "position lowers answer accuracy by 11.7 points on average, and adding nine "
        "topically similar distractors lowers it by a further 6.4 points. When the gold passage "
        "is missing, readers answer anyway in 58% of cases instead of abstaining. A reranker "
        "that costs 40 milliseconds per query recovers most of the position loss. We argue "
        "that retrieval papers should report accuracy conditioned on whether gold evidence was "
        "retrieved, and we release the question set and scripts."
    ),
    columns=1,
    abstract_style="inline",
    running_header="A Controlled Evaluation of Retrieval-Augmented Generation",
    sections=(
        _s(
            "1 Introduction",
            "A retrieval-augmented system answers a question by first fetching passages from a "
            "corpus and then asking a language model to answer using them. When such a system "
            "improves on a benchmark, the improvement could come from finding better passages, "
            "from reading them better, or from an accidental interaction such as placing the "
            "useful passage earlier in the prompt. End-to-end numbers cannot separate these "
            "explanations.",
            "We therefore evaluate the reader in isolation. For every question we know which "
            "passage contains the answer, and we control where it appears, what surrounds it and "
            "whether it appears at all. This turns a single accuracy number into a profile of how "
            "a reader behaves under realistic retrieval conditions.",
        ),
        _s(
            "2 Experimental Setup",
            "We collect 3,200 questions whose answers are stated in exactly one passage of a "
            "fixed encyclopedia snapshot. For each question we also mine 30 distractors: "
            "passages that share entities or topic with the gold passage but do not contain the "
            "answer. Contexts contain ten passages of about 100 words each. We test six readers "
            "from 7B to 70B parameters with the same prompt and greedy decoding, and score "
            "answers by normalized exact match.",
        ),
        _s(
            "3 Results",
            "With the gold passage in first position and random filler passages, readers reach "
            "between 71.2% and 84.9% accuracy. Moving the gold passage to the tenth position "
            "costs 11.7 points on average and up to 17.3 points for the smallest model. Replacing "
            "random filler with topical distractors costs another 6.4 points. Larger readers are "
            "more robust to position but not to distractors: the 70B model loses only 5.1 points "
            "to position, yet 6.0 to distractors.",
            Table(
                "Table 1: Exact-match accuracy (%) by position of the gold passage, averaged over "
                "six readers.",
                (
                    ("Gold position", "Random filler", "Topical distractors", "Gold removed"),
                    ("1", "78.6", "72.9", "-"),
                    ("5", "70.4", "63.8", "-"),
                    ("10", "66.9", "60.5", "-"),
                    ("none", "-", "-", "9.8"),
                ),
            ),
            "Without the gold passage, the correct behaviour is to abstain, yet readers give an "
            "answer in 58% of such cases and are right only 9.8% of the time, mostly on questions "
            "whose answer is common knowledge. A cross-encoder reranker that takes 40 "
            "milliseconds per query moves the gold passage to the top in 83% of cases and "
            "recovers 9.5 of the 11.7 points lost to position.",
        ),
        _s(
            "4 Conclusion",
            "Readers are sensitive to where evidence appears and to what surrounds it, and they "
            "rarely admit that evidence is missing. Reporting accuracy separately for questions "
            "with and without retrieved gold evidence would make retrieval-augmented generation "
            "results much easier to interpret.",
        ),
    ),
    references=(
        "[1] N. Okonkwo, B. Jensen, and C. Alvarez. Retrieval-augmented generation for "
        "knowledge-intensive tasks. In Advances in Neural Information Processing Systems, 2021.",
        "[2] F. Liang and M. Dupont. Lost in the middle of long contexts. Transactions of the "
        "Association for Computational Linguistics, 2024.",
        "[3] K. Schreiber, V. Anand, and T. Ortiz. Evaluating attribution in question "
        "answering. In Proceedings of NAACL, 2023.",
        "[4] H. Moreno and J. Yildiz. When not to trust retrieved passages. In Proceedings of "
        "EMNLP, 2024.",
        "[5] S. Gupta, E. Weiss, and L. Tran. Cross-encoder reranking at scale. In Proceedings of "
        "SIGIR, 2022.",
        "[6] P. Lindahl. Abstention in open-domain question answering. arXiv preprint, 2024.",
    ),
    appendix=(
        _s(
            "A Prompt Template",
            "Every reader receives the same instruction: answer the question using only the "
            "passages below, and reply that the answer is not in the passages when none of them "
            "contains it. Passages are numbered and separated by blank lines.",
        ),
        _s(
            "B Per-Reader Results",
            "The smallest reader, with 7B parameters, is the most sensitive to position and "
            "loses 17.3 points when the gold passage moves from first to tenth place. The two "
            "13B readers lose 13.0 and 12.4 points, the 34B reader 9.8 points and the two 70B "
            "readers 5.1 and 6.6 points. Abstention rates without gold evidence range from 21% "
            "for the 7B reader to 57% for the better 70B reader, which means that the largest "
            "models abstain far more often but still answer a majority of unanswerable questions "
            "in four of six cases.",
        ),
    ),
)

SIM2REAL = SamplePaper(
    stem="sample-sim-to-real",
    title="Sim-to-Real Transfer of Manipulation Policies with Randomized Contact Models",
    authors=("Tobias Lindqvist", "Aisha Bello", "Rafael Ortega", "Mei Tanaka"),
    affiliations=("Robotics Institute, Carrow University", "Ferrous Robotics"),
    abstract=(
        "Policies trained in simulation often fail on real robots during contact-rich phases "
        "such as insertion and wiping, because simulated contact is too clean. We randomize "
        "the contact model itself rather than only masses and friction coefficients: each "
        "training episode samples a contact stiffness, a damping ratio, a friction cone "
        "approximation and a small amount of surface noise. Policies are trained with "
        "proximal policy optimization on 4,096 parallel environments for 1.2 billion steps and "
        "deployed on a 7-degree-of-freedom arm without fine-tuning. On peg insertion with 0.5 "
        "millimeter clearance, the success rate on the real robot rises from 38% with standard "
        "domain randomization to 86% with contact randomization, over 50 trials per policy. "
        "On a wiping task the mean cleaned area improves from 61% to 83%. Randomizing the "
        "contact model costs 22% more simulation time but no extra real-world data."
    ),
    columns=2,
    full_width_abstract=False,
    abstract_style="dash",
    running_header="Sim-to-Real Manipulation with Randomized Contact",
    sections=(
        _s(
            "1. Introduction",
            "Reinforcement learning in simulation can produce capable manipulation policies in "
            "hours of wall-clock time. Transferring them to hardware remains difficult. Domain "
            "randomization helps by training on many variations of masses, friction and visual "
            "appearance, but the underlying contact model stays the same in every episode. Real "
            "contact is compliant, noisy and different for every pair of surfaces, and policies "
            "that have only ever seen rigid contact tend to jam during insertion or press too "
            "hard while wiping.",
            "We propose to randomize the contact model itself. This exposes the policy to soft and "
            "hard contacts, to sticky and slippery surfaces and to small geometric noise, and "
            "encourages strategies that rely on force feedback rather than precise positions.",
        ),
        _s(
            "2. Method",
            "Each episode samples contact stiffness log-uniformly between 1e3 and 1e6 newtons "
            "per meter, a damping ratio between 0.1 and 1.0, either a pyramidal or an elliptic "
            "friction cone with a coefficient between 0.3 and 1.2, and surface noise with a "
            "standard deviation of up to 0.2 millimeters. Observations are joint positions and "
            "velocities, the end-effector wrench from a wrist sensor and the target pose. The "
            "policy outputs changes to an impedance controller's setpoint at 20 Hz.",
            Figure(
                "Figure 1: Success rate on real peg insertion as a function of the range of "
                "contact stiffness seen during training."
            ),
        ),
        _s(
            "3. Experiments",
            "We compare three policies trained with the same reward and budget: no randomization, "
            "standard domain randomization of mass, friction and controller gains, and our "
            "contact randomization on top of standard randomization. Each policy is evaluated in "
            "50 real trials per task. For peg insertion, success means full insertion within 20 "
            "seconds; for wiping, we report the fraction of a marker stain removed in 30 seconds.",
            "Without randomization, real insertion succeeds in 12% of trials. Standard "
            "randomization raises this to 38%, and contact randomization to 86%. Most remaining "
            "failures come from pegs that start more than 5 millimeters away from the expected "
            "pose. On wiping, the cleaned area grows from 44% without randomization and 61% with "
            "standard randomization to 83% with contact randomization, and the peak normal force "
            "falls from 31 to 14 newtons, which protects the surface.",
        ),
        _s(
            "4. Conclusion",
            "Randomizing how contact behaves, not only the parameters of a fixed contact model, "
            "closes much of the gap between simulated and real manipulation for contact-rich "
            "tasks. The approach needs no real data and only modest extra simulation time.",
        ),
    ),
    references=(
        "[1] J. Abbott, C. Ferrante, and W. Zhou. Domain randomization for transferring deep "
        "networks from simulation to the real world. In Proceedings of IROS, 2021.",
        "[2] M. Kaur and S. Pellegrini. Massively parallel simulation for robot learning. In "
        "Conference on Robot Learning, 2022.",
        "[3] L. Hoffmann, T. Bakare, and R. Silva. Proximal policy optimization for "
        "manipulation at scale. IEEE Robotics and Automation Letters, 8(4):2101-2108, 2023.",
        "[4] D. Moreau and K. Lin. Compliant contact models for physics simulation. ACM "
        "Transactions on Graphics, 2020.",
        "[5] A. Nwosu, P. Berg, and J. Castro. Learning peg insertion with force feedback. In "
        "International Conference on Robotics and Automation, 2023.",
        "[6] Y. Hart and E. Quinn. Variable impedance control for wiping tasks. In Proceedings "
        "of Humanoids, 2022.",
    ),
)

SAMPLE_PAPERS: tuple[SamplePaper, ...] = (SPECULATIVE, DISTILL, TOOLGUARD, RAG_EVAL, SIM2REAL)


# --- Layout -------------------------------------------------------------------------------

PAGE_W, PAGE_H = 612.0, 792.0
TOP, BOTTOM = 72.0, 730.0


@dataclass(frozen=True)
class Fonts:
    body: str
    bold: str
    italic: str


TIMES = Fonts("tiro", "tibo", "tiit")
HELVETICA = Fonts("helv", "hebo", "heit")


def _columns(paper: SamplePaper) -> list[tuple[float, float]]:
    """Column (x0, x1) ranges: one 468 pt column, or two 243 pt columns with an 18 pt gutter."""
    if paper.columns == 1:
        return [(72.0, 540.0)]
    return [(54.0, 297.0), (315.0, 558.0)]


def _width(text: str, font: str, size: float) -> float:
    return pymupdf.get_text_length(text, fontname=font, fontsize=size)


def wrap(
    text: str, font: str, size: float, width: float, hyphenate: dict[str, int], first: float = 0
) -> list[str]:
    """Greedy line breaking; `first` narrows the first line (for a run-in label)."""
    lines: list[str] = []
    line, used, space = "", 0.0, _width(" ", font, size)
    for word in text.split():
        limit = width - (first if not lines else 0)
        grown = used + (space if line else 0) + _width(word, font, size)
        if grown <= limit:
            line, used = (f"{line} {word}" if line else word), grown
            continue
        head, tail = _split(word, hyphenate)
        if head and line and used + _width(f" {head}-", font, size) <= limit:
            lines.append(f"{line} {head}-")
            line = tail
        else:
            lines.append(line)
            line = word
        used = _width(line, font, size)
    return [*lines, line] if line else lines


def _split(word: str, hyphenate: dict[str, int]) -> tuple[str, str]:
    at = hyphenate.get(word.rstrip(".,;:").lower(), 0)
    return (word[:at], word[at:]) if at else ("", word)


class _Writer:
    """Flows text down the columns of successive pages, adding running headers as it goes."""

    def __init__(self, doc: pymupdf.Document, paper: SamplePaper) -> None:
        self.doc, self.paper = doc, paper
        self.fonts = HELVETICA if paper.sans else TIMES
        self.cols = _columns(paper)
        self.page = self._new_page()
        self.col, self.y, self.col_top = 0, TOP, TOP
        self.size = 11.0 if paper.columns == 1 else 10.0  # as in 11pt one-column preprints

    def _new_page(self) -> pymupdf.Page:
        page = self.doc.new_page(width=PAGE_W, height=PAGE_H)
        number = str(page.number + 1)
        page.insert_text(
            (72, 48), self.paper.running_header, fontname=self.fonts.italic, fontsize=8
        )
        page.insert_text((PAGE_W / 2 - 3, 762), number, fontname=self.fonts.body, fontsize=9)
        return page

    @property
    def x0(self) -> float:
        return self.cols[self.col][0]

    @property
    def width(self) -> float:
        return self.cols[self.col][1] - self.cols[self.col][0]

    def room(self, height: float) -> None:
        """Move to the next column (or page) unless `height` points fit below the cursor."""
        if self.y + height <= BOTTOM:
            return
        self.col += 1
        if self.col == len(self.cols):
            self.break_page()
        self.y = self.col_top

    def break_page(self) -> None:
        self.page, self.col, self.col_top, self.y = self._new_page(), 0, TOP, TOP

    def line(self, text: str, font: str, size: float, indent: float = 0) -> None:
        self.room(size * 1.2)
        self.y += size * 1.2
        self.page.insert_text((self.x0 + indent, self.y), text, fontname=font, fontsize=size)

    def gap(self, points: float) -> None:
        if self.y > self.col_top:
            self.y += points


def _centered(writer: _Writer, text: str, font: str, size: float, width: float) -> None:
    for line in wrap(text, font, size, width, {}):
        x = (PAGE_W - _width(line, font, size)) / 2
        writer.y += size * 1.25
        writer.page.insert_text((x, writer.y), line, fontname=font, fontsize=size)


def _front(w: _Writer) -> None:
    p, f = w.paper, w.fonts
    _centered(w, p.title, f.bold, 17, 460)
    w.y += 10
    _centered(w, ", ".join(p.authors[:-1]) + " and " + p.authors[-1], f.body, 11, 460)
    for affiliation in p.affiliations:
        _centered(w, affiliation, f.italic, 9.5, 460)
    w.y += 14
    if p.full_width_abstract or p.columns == 1:
        x0, x1 = (108.0, 504.0) if p.columns == 1 else (72.0, 540.0)
        _abstract(w, x0, x1 - x0)
        w.y += 10
        w.col_top = w.y
    else:
        w.col_top = w.y  # the right column starts level with the left-column abstract
        _abstract(w, w.x0, w.width)


def _abstract(w: _Writer, x0: float, width: float) -> None:
    p, f = w.paper, w.fonts
    label = {"inline": "Abstract.", "dash": "Abstract\u2014"}.get(p.abstract_style, "")
    if not label:
        w.y += 4
        _centered_in(w, "Abstract", f.bold, 11, x0, width)
        w.y += 4
    size = w.size
    run_in = _width(label + " ", f.bold, size) if label else 0
    for i, text in enumerate(wrap(p.abstract, f.body, size, width, p.hyphenate, run_in)):
        w.room(size * 1.2)
        w.y += size * 1.2
        if i == 0 and label:
            _label(w.page, (x0, w.y), label, f.bold, size)
        w.page.insert_text((x0 + run_in * (i == 0), w.y), text, fontname=f.body, fontsize=size)


def _label(page: pymupdf.Page, at: tuple[float, float], text: str, font: str, size: float) -> None:
    # insert_text's simple encoding has no em dash; a TextWriter with the same base-14 font does.
    writer = pymupdf.TextWriter(page.rect)
    writer.append(at, text, font=pymupdf.Font(font), fontsize=size)
    writer.write_text(page)


def _centered_in(w: _Writer, text: str, font: str, size: float, x0: float, width: float) -> None:
    w.y += size * 1.2
    x = x0 + (width - _width(text, font, size)) / 2
    w.page.insert_text((x, w.y), text, fontname=font, fontsize=size)


def _heading(w: _Writer, text: str) -> None:
    size = 12.0 if "." not in text.split()[0].rstrip(".") else 10.5
    w.gap(10)
    w.room(size * 1.2 + 3.6 * w.size)  # keep a heading with the start of its text
    w.line(text, w.fonts.bold, size)
    w.y += 3


def _paragraph(w: _Writer, text: str, size: float = 0, indent: float = 0) -> None:
    size = size or w.size
    lines = wrap(text, w.fonts.body, size, w.width - indent, w.paper.hyphenate)
    for i, text_line in enumerate(lines):
        w.line(text_line, w.fonts.body, size, indent if i else 0)
    w.y += 5


def _caption(w: _Writer, text: str) -> None:
    for line in wrap(text, w.fonts.body, 9, w.width, {}):
        w.line(line, w.fonts.body, 9)


def _table(w: _Writer, table: Table) -> None:
    n = len(table.rows[0])
    height = 9 * 1.2 * (len(wrap(table.caption, w.fonts.body, 9, w.width, {})) + 1)
    w.gap(8)
    w.room(height + len(table.rows) * 12 + 12)
    _caption(w, table.caption)
    w.y += 6
    first = w.width * (0.4 if n > 3 else 0.5)
    step = (w.width - first) / (n - 1)
    for r, row in enumerate(table.rows):
        w.y += 11
        font = w.fonts.bold if r == 0 else w.fonts.body
        for c, cell in enumerate(row):
            x = w.x0 + (0 if c == 0 else first + (c - 1) * step)
            w.page.insert_text((x, w.y), cell, fontname=font, fontsize=8.5)
    w.y += 12


def _figure(w: _Writer, figure: Figure) -> None:
    w.gap(8)
    w.room(110 + 40)
    box = pymupdf.Rect(w.x0 + 20, w.y + 4, w.x0 + w.width - 20, w.y + 94)
    w.page.draw_rect(box, color=(0.3, 0.3, 0.3), width=0.8)
    for i, h in enumerate((30, 55, 42, 70, 61)):
        bar_x = box.x0 + 15 + i * (box.width - 30) / 5
        bar = pymupdf.Rect(bar_x, box.y1 - h, bar_x + 18, box.y1 - 4)
        w.page.draw_rect(bar, color=None, fill=(0.45, 0.55, 0.75))
    w.y = box.y1 + 6
    _caption(w, figure.caption)
    w.y += 8


def _section(w: _Writer, section: SampleSection) -> None:
    _heading(w, section.heading)
    for block in section.blocks:
        if isinstance(block, Table):
            _table(w, block)
        elif isinstance(block, Figure):
            _figure(w, block)
        else:
            _paragraph(w, block)


def _references(w: _Writer) -> None:
    _heading(w, "References")
    for entry in w.paper.references:
        _paragraph(w, entry, size=8.5, indent=12)


def render(paper: SamplePaper) -> bytes:
    """The PDF bytes of one sample paper (deterministic: no timestamps, no random file id)."""
    doc = pymupdf.open()
    w = _Writer(doc, paper)
    _front(w)
    for section in paper.sections:
        _section(w, section)
    _references(w)
    if paper.appendix:
        w.break_page()  # appendices start on a new page
    for section in paper.appendix:
        _section(w, section)
    doc.set_metadata({"title": paper.title, "author": ", ".join(paper.authors)})
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)


def write_sample_papers(out_dir: Path) -> list[Path]:
    """Write every sample paper into `out_dir`, leaving files that already exist untouched.

    Existing files are kept as they are so a second `make demo` sees the same bytes (and the
    cache keyed on them hits).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_write_once(out_dir / paper.filename, paper) for paper in SAMPLE_PAPERS]


def _write_once(path: Path, paper: SamplePaper) -> Path:
    if not path.exists():
        write_atomic(path, render(paper))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the sample papers as PDFs.")
    parser.add_argument("out_dir", type=Path, help="folder to write the PDFs into")
    args = parser.parse_args(argv)
    for path in write_sample_papers(args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
