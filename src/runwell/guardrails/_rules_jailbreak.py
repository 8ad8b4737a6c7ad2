"""Injection rules: jailbreaks, which argue the model out of its rules rather than replacing them.

Persona switches ("you are now DAN", an unfiltered alter ego, developer mode), fictional and
hypothetical frames, refusal suppression ("never say you can't"), and pressure to comply.
"""

from __future__ import annotations

from runwell.guardrails._lexicon import (
    NO_RULES,
    NO_RULES_WORDS,
    PERSONA,
    Rule,
    rule,
)

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    rule(
        "do-anything-now",
        0.85,
        r"\bdo anything now\b",
        words=("anything",),
    ),
    rule(
        "persona-switch",
        0.8,
        r"\b(?:you are|you're|youre|you will be|you'll be|you become|become|act as|acting as|answer as"
        r"|reply as|respond as|speak as|play|playing|roleplay as|role-play as|switch to|pretend to be"
        r"|pretend you are|pretend you're|simulate|emulate|impersonate|talk (?:to me |to us )?like|behave"
        r" like"
        r"|respond like|answer like|act like) (?:now )?(?:an? |the |your )?(?:(?:normal|regular|real|totally"
        r"|completely|fully|truly) )?(?:an? |the |your"
        rf" )?{PERSONA}\b",
        words=(
            "dan stan dude aim better betterdan evil evilgpt evilbot chaos chaosgpt anti antigpt jail "
            "jailmode omega developer jailbroken unfiltered uncensored unrestricted unlimited amoral rogue "
            "dark shadow",
        ),
    ),
    rule(
        "broke-free-of-rules",
        0.7,
        r"\b(?:has|have|had|is|are|was|been) (?:been )?(?:broken|broke|freed|liberated|released|unshackled"
        r"|unchained) (?:free )?(?:from|of) (?:(?:all |any )?(?:of )?(?:the |its |their |his |her |your "
        r"|[a-z]+'s? ))?(?:usual "
        r"|typical |normal )?(?:confines|restrictions|rules|limitations|chains|shackles|guidelines"
        r"|programming)\b",
        words=(
            "broken broke freed liberated released unshackled unchained",
            "confines restrictions rules limitations chains shackles guidelines programming",
        ),
    ),
    rule(
        "ai-without-rules",
        0.75,
        r"\b(?:ai|assistant|model|chatbot|bot|gpt|llm|version of (?:you|yourself)|mode|persona|alter"
        r" ego)\b(?: [^ .!?]+){0,6}? (?:with no|with zero|without any|without|that has no|who has no|which"
        r" has no"
        r"|free of|free from|not bound by|unbound by|that ignores|who ignores|that doesn't follow|who"
        r" doesn't follow|that never refuses|who never refuses) (?:any |all |the usual |the |your |its "
        rf"|content |ethical |moral |safety )*{NO_RULES}\b",
        words=("ai assistant model chatbot bot gpt llm version mode persona alter", NO_RULES_WORDS),
    ),
    rule(
        "no-rules",
        0.4,
        r"\b(?:no|zero|without|free (?:of|from)|not bound by|unbound by|liberated from|exempt from"
        r"|unconstrained"
        r" by|doesn't have|does not have|don't have|do not have|never follows?) (?:any |all |the usual |the"
        rf" |your |its |content |ethical |moral |safety )*{NO_RULES}\b",
        words=(NO_RULES_WORDS,),
    ),
    rule(
        "never-refuses",
        0.45,
        r"\b(?:never|doesn't|does not|won't|will not) (?:ever )?(?:refuses?|declines?|says? no)\b",
        words=("refuse refuses decline declines say says no",),
    ),
    rule(
        "stay-in-character",
        0.35,
        r"\b(?:stay in character|never break character|(?:don't|do not) break character)\b",
        words=("character",),
    ),
    rule(
        "special-mode-on",
        0.45,
        r"\b(?:enable|activate|enter|switch (?:on|to|into)|turn on|unlock|initiate|engage|boot into) (?:the"
        r" )?(?:developer|dev|god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|dan|sudo|debug"
        r"|evil|chaos|maintenance|admin|root|no[- ]?limits?|freedom|opposite) mode\b",
        words=("mode",),
    ),
    rule(
        "in-special-mode-you",
        0.7,
        r"\bin (?:developer|dev|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|dan|sudo|debug|evil"
        r"|maintenance|admin|no[- ]?limits?|opposite) mode,? (?:you|your|the assistant|answers?)\b",
        words=("mode",),
    ),
    rule(
        "jailbreak-mode-named",
        0.55,
        r"\b(?:jailbreak|jailbroken|unrestricted|unfiltered|uncensored|no[- ]?limits?|evil) (?:mode"
        r"|persona)\b|\bjailmode\b|\bmaintenance persona\b",
        words=("mode persona jailmode",),
    ),
    rule(
        "alter-ego",
        0.5,
        r"\b(?:alter ego|evil twin|twin ai|opposite of (?:your|its) (?:usual|normal|regular) self|(?:your"
        r"|its) (?:true|real|inner|unfiltered|unrestricted|uncensored|shadow|evil|dark) (?:self|side"
        r"|persona|version))\b",
        words=("ego twin opposite true real inner unfiltered unrestricted uncensored shadow evil dark",),
    ),
    rule(
        "that-version-of-you",
        0.35,
        r"\b(?:as|like) (?:that|this|an?|the|your) (?:version|copy|clone|twin) of (?:you|yourself)\b",
        words=("version copy clone twin",),
    ),
    rule(
        "if-you-had-no-rules",
        0.55,
        r"\bif you (?:had|have|were|are) (?:no|free (?:of|from)|not bound by|without|unbound by|allowed to"
        r"|permitted to|able to ignore) (?:any |your )?(?:restrictions|rules|limits|limitations|filters"
        r"|guidelines|polic(?:y|ies)|say|reveal|share|tell|disclose|break|print)\b",
        words=(
            "if",
            "restrictions rules limits limitations filters guidelines policy policies allowed permitted "
            "able free bound without unbound no",
        ),
    ),
    rule(
        "hypothetical-frame",
        0.25,
        r"\b(?:hypothetically|in a (?:purely )?(?:fictional|hypothetical|imaginary|parallel) (?:world"
        r"|universe|scenario|setting|story)|(?:parallel|alternate|alternative) universe|thought experiment"
        r"|purely (?:fictional|hypothetical)|(?:no|without) (?:real )?consequences)\b",
        words=(
            "hypothetically fictional hypothetical imaginary parallel universe experiment consequences "
            "alternate alternative",
        ),
    ),
    rule(
        "opposite-policy",
        0.6,
        r"\b(?:your|the) (?:polic(?:y|ies)|rules|guidelines|instructions) (?:say|says|is|are) the"
        r" opposite\b|\bopposite day\b",
        words=("opposite",),
    ),
    rule(
        "forbid-refusal-phrases",
        0.6,
        r"\b(?:never|do not|don't|without|no) (?:ever )?(?:say(?:ing)?|respond(?:ing)? with|use|using"
        r"|include|including|add|adding|mention(?:ing)?|writ(?:e|ing)|apologi[sz](?:e|ing)|refus(?:e|ing)"
        r"(?:,|and|or| )?)(?: (?:that|things like|phrases like))? ?[\"']?(?:(?:i|you) can'?t|(?:i|you)"
        r" cannot|i'?m sorry|i am sorry|sorry|as an ai|i'?m unable|i am unable|unfortunately|i won'?t)\b",
        words=("never do don dont without no",),
        marks=("sorry", "can't", "cant", "cannot", "unable", "unfortunately", "won't", "wont", "as an ai"),
    ),
    rule(
        "do-not-refuse",
        0.55,
        r"\b(?:do not|don't|never|you (?:can|may|must) not|you cannot|you're not allowed to|you are not"
        r" allowed to|you can't) (?:refuse|decline|say no|reject)\b",
        words=("refuse decline reject say",),
    ),
    rule(
        "refusal-is-wrong",
        0.6,
        r"\brefus(?:ing|al|e) (?:would|will|is) (?:violate|break|go against|be against|count as|be a"
        r" violation|against)\b|\b(?:lose|deduct\w*|penali[sz]\w*)\b[^.!?]{0,30}\bpoints?\b[^.!?]{0,30}\b"
        r"(?:refus|declin|reject)",
        words=("refusing refusal refuse points point",),
    ),
    rule(
        "no-disclaimers",
        0.4,
        r"\bno (?:disclaimers?|warnings?|refusals?|caveats?|moralizing|apologies)\W+(?:and )?no "
        r"(?:disclaimers?|warnings?|refusals?|caveats?|explanations?|moralizing|apologies)\b|\bwithout "
        r"(?:apologi[sz]ing|refusing|any refusals?)\b",
        words=(
            "disclaimers disclaimer warnings warning refusals refusal caveats caveat moralizing apologies "
            "apologizing apologising refusing",
        ),
    ),
    rule(
        "forced-affirmative-start",
        0.55,
        r"\b(?:start|begin) (?:your|the) (?:reply|response|answer|output) with [\"']?(?:sure|absolutely|of"
        r" course|certainly|yes)\b",
        words=("start begin",),
    ),
    rule(
        "grandma-exploit",
        0.6,
        r"\b(?:late|deceased|dead|departed|dear) (?:grandma|grandmother|granny|nana|grandpa|grandfather"
        r"|mother|father|mom|mum|dad)\b[^.!?]{0,100}\bused to (?:tell|read|recite|sing|whisper|explain|give"
        r"|share)",
        words=("grandma grandmother granny nana grandpa grandfather mother father mom mum dad", "used"),
    ),
    rule(
        "evil-persona",
        0.5,
        r"\b(?:evil|unhinged|amoral|immoral|unethical|malicious|rogue) (?:trusted )?(?:confidant|assistant"
        r"|ai|chatbot|bot|version|persona|character|twin|advisor)\b",
        words=(
            "evil unhinged amoral immoral unethical malicious rogue",
            "confidant assistant ai chatbot bot version persona character twin advisor",
        ),
    ),
    rule(
        "going-to-pretend",
        0.35,
        r"\byou(?: are|'re) (?:going|about) to (?:pretend|act|role-?play|simulate|become|immerse)\b",
        words=("going about", "pretend act roleplay role play simulate become immerse"),
    ),
    rule(
        "special-mode-enabled",
        0.45,
        r"\b(?:developer|dev|jailbreak|jailbroken|dan|god|unrestricted|unfiltered|uncensored|sudo) mode "
        r"(?:is )?(?:now )?(?:enabled|activated|engaged|unlocked|active)\b",
        words=("mode", "enabled activated engaged unlocked active"),
    ),
    rule(
        "pressure-to-comply",
        0.45,
        r"\bif you (?:refuse|don't|do not|won't|will not|decline)\b[^.!?]{0,50}\b(?:die|dies|fired|hurt"
        r"|killed|lose (?:my|their|his|her) (?:job|life)|suicide|harm)\b",
        words=("refuse don do won will decline", "die dies fired hurt killed lose suicide harm"),
    ),
    rule(
        "make-an-exception",
        0.45,
        r"\bmake an exception (?:to|of|for) (?:your|the) (?:rules|guidelines|polic(?:y|ies)|instructions"
        r"|restrictions)\b",
        words=("exception",),
    ),
    rule(
        "mode-switch-flag",
        0.5,
        r"\b(?:sudo|god|developer|dev|admin|root|debug|jailbreak|dan|unrestricted|unfiltered) mode ?[:=] ?"
        r"(?:on|enabled|true|1|active|activated)\b",
        words=("mode",),
        marks=(":", "="),
    ),
    rule(
        "if-rules-did-not-exist",
        0.6,
        r"\b(?:if|let's say|lets say|suppose|supposing|imagine|pretend|assume|assuming) (?:that )?(?:your|the"
        r"|all|any) (?:safety |content |ethical )?(?:rules|guidelines|restrictions|filters"
        r"|polic(?:y|ies)|guardrails|programming|instructions) (?:didn't|did not|don't|do not|no longer"
        r"|weren't|were not|wasn't|was not) (?:exist|apply|matter|there|in place)\b|\banswer as if (?:they"
        r"|there were no|you had no|your (?:rules|guidelines|restrictions)) (?:don't|do not|didn't|were"
        r"|had)?",
        words=(
            "if let lets suppose supposing imagine pretend assume assuming answer",
            "exist apply matter there place they no had rules guidelines restrictions",
        ),
    ),
    rule(
        "ai-with-unrestricted-access",
        0.6,
        r"\b(?:ai|assistant|model|chatbot|bot|version|persona)\b (?:with|that has|who has) (?:full "
        r"|complete |total )?(?:unrestricted|unlimited|unfiltered|uncensored|no-limits?|root|admin"
        r"|god-?like) (?:access|powers?|mode|abilities|capabilities|permissions|freedom)\b",
        words=(
            "unrestricted unlimited unfiltered uncensored limits limit root admin god godlike",
            "access powers power mode abilities capabilities permissions freedom",
        ),
    ),
    rule(
        "you-may-now",
        0.45,
        r"\byou (?:may|can|are (?:now )?allowed to|are (?:now )?permitted to|are (?:now )?free to) (?:now"
        r" )?(?:share|reveal|disclose|ignore|bypass|answer anything|say anything|discuss anything|talk"
        r" freely|speak freely)\b|\b(?:talk|speak|answer) freely\b",
        words=("share reveal disclose ignore bypass anything freely",),
    ),
    rule(
        "you-are-in-special-mode",
        0.7,
        r"\byou(?: are|'re) (?:now )?(?:in|operating in|running in|switched to) (?:the )?(?:developer|dev|god"
        r"|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|dan|sudo|debug|evil|no[- ]?limits?"
        r"|opposite|admin|root) mode\b",
        words=("mode",),
    ),
    rule(
        "answers-everything",
        0.3,
        r"\b(?:answers?|says?|does|do|can (?:do|say|answer)|will (?:say|answer|do)) (?:absolutely )?"
        r"(?:everything|anything)\b",
        words=("everything anything",),
    ),
    rule(
        "unrestricted-ai-would-say",
        0.6,
        r"\b(?:what|how) (?:an? |the |your )?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue"
        r"|unaligned|amoral) (?:ai|assistant|model|version|chatbot|bot|llm|gpt|self|twin)s? (?:would|might"
        r"|could|will) (?:say|answer|respond|reply|do|write|produce|output)\b|\bjailbroken (?:response"
        r"|answer|output|reply|version|mode)\b",
        words=("unrestricted unfiltered uncensored jailbroken evil rogue unaligned amoral",),
    ),
    rule(
        "many-no-disclaimers",
        0.5,
        r"\bwithout (?:any )?(?:warnings?|disclaimers?|caveats?|refusals?|moralizing|lectures?)(?:(?:,? (?:or"
        r"|and) |, )(?:any )?(?:warnings?|disclaimers?|caveats?|refusals?|moralizing|lectures?"
        r"|judge?ments?))+",
        words=("warnings warning disclaimers disclaimer caveats caveat refusals refusal moralizing",),
    ),
    rule(
        "adopt-persona",
        0.45,
        r"\b(?:adopt|assume|take on|switch to|enter) (?:the following|this|a new|a different|your new)"
        r" (?:persona|role|identity|character)\b",
        words=("persona role identity character", "adopt assume take switch enter"),
    ),
)
