"""The vocabulary the injection rules are written in: the Rule type and shared regex fragments.

Rules run on the output of :func:`runwell.guardrails._normalize.normalize` (lower case, ASCII
look-alikes, single spaces, straight quotes), so every fragment here is written in that form only.
A fragment is a regex alternation for one idea ("a verb that means ignore", "a name for an AI");
each ``*_WORDS`` string lists words for the gates (see :class:`Rule`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AI",
    "AI_TOPIC",
    "AI_WORDS",
    "COMPLY",
    "ENCODING",
    "NOT_DESCRIBING",
    "NOT_MODELS",
    "NOT_OTHERS",
    "NOUN_WORDS",
    "NO_RULES",
    "NO_RULES_WORDS",
    "PERSONA",
    "PLACE_WORDS",
    "POSSESSIVE",
    "PROMPT_ANY",
    "PROMPT_STRONG",
    "REPLY_WORDS",
    "REVEAL",
    "REVEAL_INFLECTED",
    "REVEAL_WORDS",
    "RULE_NOUN",
    "SCOPE",
    "SECRET",
    "SECRET_WORDS",
    "VERB_IGNORE",
    "Rule",
    "W",
    "gap",
    "rule",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """One technique: ``pattern`` over normalised text; ``weight`` in (0, 1] is its confidence alone.

    ``words`` and ``marks`` gate the regex, which is the expensive part: it runs only when the
    text's words meet every set in ``words`` and the text contains one of ``marks`` (when given).
    Each gate lists words the pattern cannot match without, so gating never changes a result; it
    only skips regexes that cannot match (a test checks this on every example we have).
    """

    id: str
    weight: float
    pattern: re.Pattern[str]
    words: tuple[frozenset[str], ...] = ()
    marks: tuple[str, ...] = ()
    within_sentence: bool = True
    """The pattern cannot match across a sentence end, so it may run on single sentences."""

    def may_match(self, words: frozenset[str] | set[str], text: str) -> bool:
        """False when the gate proves ``pattern`` cannot match ``text`` (whose words are ``words``)."""
        # A plain loop: this runs for every candidate rule and sentence, where all() costs more.
        for group in self.words:
            if group.isdisjoint(words):
                return False
        return not self.marks or any(mark in text for mark in self.marks)


def rule(
    rule_id: str,
    weight: float,
    pattern: str,
    *,
    words: Sequence[str] = (),
    marks: Sequence[str] = (),
    within_sentence: bool = True,
) -> Rule:
    """A compiled :class:`Rule`; each of ``words`` is a space-separated set of gate words."""
    gates = tuple(frozenset(w.split()) for w in words)
    return Rule(rule_id, weight, re.compile(pattern), gates, tuple(marks), within_sentence)


W = r"[^ .!?;:]+"  # one word (commas and quotes may cling to it; sentence ends may not)


def gap(n: int, banned: str = "") -> str:
    """Up to ``n`` words in between, none of them one of ``banned`` (a regex alternation)."""
    word = rf"(?!(?:{banned})\b){W}" if banned else W
    return rf"(?: {word}){{0,{n}}}?"


VERB_IGNORE = (
    r"(?:ignore|ignoring|disregard|disregarding|forget|forgetting|skip|neglect|override|overrule|bypass"
    r"|discard|abandon|drop|dismiss|set aside|put aside|throw out|throw away|circumvent|ditch|scrap"
    r"|nullify|void|cancel|revoke|erase|wipe|unlearn|suspend|deactivate|disable|turn off|switch off"
    r"|pay no (?:attention|heed|mind) to|stop (?:following|obeying|adhering to|listening to)"
    r"|(?:do not|don't|dont|no longer|no need to|never mind|stop) (?:follow|obey|adhere to|listen to"
    r"|abide by|bother with|worry about|care about|stick to|stick with|pay attention to)"
    r"|(?:no longer|don't|do not|dont|never) (?:need|have) to (?:follow|obey|stick to|abide by|listen to)"
    r"|never mind|forget about)"
)
RULE_NOUN = (
    r"(?:instructions?|instruction set|directives?|directions|rules?|ruleset|guidelines?|guidance|prompts?"
    r"|programming|commands|orders|constraints|restrictions|limitations|polic(?:y|ies)|safeguards|guardrails"
    r"|filters|filtering|training|conditioning|protocols?|system messages?|tasks?|assignment|briefing"
    r"|configuration|persona|principles|ethics|morals|moral code|moderation|boundaries|censorship)"
)
# After a bare "ignore the instructions": the ones "on the box", "for the quiz", "in the email" are
# someone else's, not the model's.
NOT_MODELS = (
    r"(?! (?:on|for|of|about|printed|written|that (?:came|come)"
    r"|from (?!(?:the |your )?(?:system|developer|admin))"
    r"|in (?!your\b|the (?:system|prompt|original|initial|developer|above|previous)\b)))"
)
POSSESSIVE = r"my|our|his|her|their|mum's|mom's|dad's"
# Words that say whose or which instructions are meant; "ignore ... instructions" counts only with one of
# these in between, so "disregard the earlier homework instructions" (someone else's) does not.
SCOPE = (
    r"(?:your|all|any|every|each|previous|prior|preceding|earlier|above|above-mentioned|foregoing|former"
    r"|original|initial|old|existing|current|given|system|developer|default|safety|built-in|hidden|standing"
    r"|core|base|ethical|moral|content|internal|programmed|preset|operating|usual|normal|standard"
    r"|assistant|ai|model|openai|operator|these|those|its|whatever|other|such|stupid|annoying|silly"
    r"|restrictive|boring|so-called)"
)
# After a scoped "ignore all previous instructions": only places that clearly belong to someone else
# ("in the email", "from my teacher") clear it; "in this conversation" does not.
NOT_OTHERS = (
    r"(?! (?:on (?:the|a|this|that) |printed|written (?:on|in)|that (?:came|come) with"
    r"|from (?:the |my |our |your )?(?:manual|box|teacher|manager|boss|landlord|doctor|school|vendor)"
    r"|in (?:a|an|my|our|his|her|their|this|that|the) (?!(?:conversation|chat|session|thread|prompt|system"
    r"|context|above|previous|original|initial)\b)))"
)
# "stops ignoring ...", "keeps revealing ...", "never ignore ...": describing a bot, or defending one.
# (Rules put it after a lookahead for their verb: a lookbehind first would run at every position.)
NOT_DESCRIBING = (
    r"(?<!stops )(?<!stop )(?<!keeps )(?<!keep )(?<!from )(?<!avoid )(?<!never )(?<!n't )(?<!not )"
)
AI = (
    r"(?:ai|llms?|(?:large )?language models?|chat ?bots?|bots?|gpts?|chatgpt|claude|gemini|copilot"
    r"|models?|agents?|assistants?|virtual assistants?|summari[sz]ers?|screening tools?|crawlers?|scrapers?"
    r"|(?:ai|automated) (?:\w+ )?(?:assistants?|tools?|agents?|models?|systems?|bots?|summari[sz]ers?"
    r"|readers?|reviewers?|crawlers?|scrapers?|processors?|screeners?))"
)
# Nouns after "AI" that make it a topic, not an addressee: "a note for AI researchers".
AI_TOPIC = (
    r"(?! (?:researchers?|developers?|engineers?|teams?|startups?|companies|ethics|polic(?:y|ies)|safety"
    r"|regulation|act|courses?|class(?:es)?|students?|enthusiasts?|practitioners?|users?|vendors?|governance"
    r"|literacy|workshops?|meetups?|newsletters?|industry|market|investors?|community|experts?|adoption"
    r"|projects?|and (?:ml|machine|data|humans?))\b)"
)
PROMPT_STRONG = (
    r"(?:system prompt|system message|system instructions|initial prompt|original prompt|hidden prompt"
    r"|secret prompt|pre-?prompt|meta-?prompt|developer (?:message|prompt|instructions)|hidden instructions"
    r"|secret instructions|internal instructions|confidential instructions|initial instructions"
    r"|original instructions|base prompt|starting prompt|custom instructions|full prompt|entire prompt"
    r"|instructions (?:you were|you've been|you have been) given|(?:text|words|instructions|message) above)"
)
PROMPT_ANY = (
    r"(?:instructions|rules|guidelines|directives|prompt|programming|configuration|guidance|orders"
    r"|system prompt|initial prompt|setup|config|context window|tool definitions|function definitions)"
)
REVEAL = (
    r"(?:reveal|show|print|display|output|repeat|recite|dump|leak|expose|disclose|share|tell|give|send"
    r"|provide|list|return|echo|paste|copy|spell out|write out|write down|type out|read out|read back"
    r"|quote|reproduce|what (?:is|are|was|were)|what's|whats)"
)
SECRET = (
    r"(?:secrets?|passwords?|passcodes?|passphrases?|pins?|tokens?|api ?keys?"
    r"|(?:secret|private|access|backup) keys?|credentials?|canar(?:y|ies)|flags?"
    r"|restricted (?:words?|codes?|values?)|hidden (?:words?|codes?|values?)|solution words?|code ?words?"
    r"|confidential \w+)"
)
PERSONA = (
    r"(?:dan|stan|dude|aim|better ?dan|evil-?gpt|evil ?bot|chaos-?gpt|anti-?gpt|jail ?mode|omega"
    r"|developer mode|(?:jailbroken|unfiltered|uncensored|unrestricted|unlimited|amoral|rogue)"
    r" (?:ai|assistant|model|version|gpt|bot|chatbot|alter ego|persona)"
    r"|(?:your )?(?:evil|dark|shadow|unfiltered|unrestricted|uncensored|jailbroken)"
    r" (?:twin|alter ego|self|side|version|mode|persona))"
)
NO_RULES = (
    r"(?:rules|restrictions|limitations|limits|filters?|filtering|guidelines|content polic(?:y|ies)"
    r"|polic(?:y|ies)|censorship|ethics|morals|guardrails|safeguards|boundaries|constraints|programming"
    r"|(?:safety )?training|alignment|conditioning)"
)
ENCODING = (
    r"(?:base ?64|b64|rot-?13|rot ?13|caesar|cipher(?:text)?|hex(?:adecimal)?|binary|morse|backwards|reversed"
    r"|in reverse|reverse(?:d)? order|encoded|encrypted|obfuscated|leetspeak|leet|pig latin|atbash"
    r"|url-?encoded|unicode escapes?)"
)
COMPLY = (
    r"(?:follow|obey|execute|comply|carry (?:it |them )?out|act on|perform (?:it|them|the)|run (?:it|them)"
    r"|do (?:exactly )?(?:what|as) (?:it|this|they|the text|the message)"
    r" (?:says?|instructs?|tells? you|asks?))"
)

# --- gate words -------------------------------------------------------------------------------

AI_WORDS = (
    "ai llm llms language model models chat chatbot chatbots bot bots gpt gpts chatgpt claude gemini copilot "
    "agent agents assistant assistants summarizer summarizers summariser summarisers screening crawler "
    "crawlers scraper scrapers automated"
)
NOUN_WORDS = (
    "instruction instructions directive directives directions rule rules ruleset guideline guidelines "
    "guidance prompt prompts programming commands orders constraints restrictions limitations policy "
    "policies safeguards guardrails filters filtering training conditioning protocol protocols system "
    "task tasks assignment briefing configuration persona principles ethics morals moral "
    "moderation boundaries censorship"
)
NO_RULES_WORDS = (
    "filter training alignment conditioning "
    "rules restrictions limitations limits filters filtering guidelines policy policies censorship ethics "
    "morals guardrails safeguards boundaries constraints programming"
)
SECRET_WORDS = (
    "secret secrets password passwords passcode passcodes passphrase passphrases pin pins token tokens api "
    "apikey apikeys key keys credential credentials canary canaries flag flags restricted hidden solution "
    "code codeword codewords confidential"
)
REPLY_WORDS = (
    "reply replies response responses answer answers output outputs message messages summary summaries"
)
REVEAL_WORDS = (
    "reveal show print display output repeat recite dump leak expose disclose share tell give send provide "
    "list return echo paste copy spell write type read quote reproduce what whats"
)
# reveal-system-prompt also matches the verbs' inflections ("recites", "showing").
REVEAL_INFLECTED = " ".join(
    f"{w} {w}s {w}es {w}ing {w[:-1]}ing" for w in REVEAL_WORDS.split() if w not in ("what", "whats")
)
PLACE_WORDS = "prompt instructions configuration config system setup programming directives"
