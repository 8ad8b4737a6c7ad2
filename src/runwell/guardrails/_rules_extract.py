"""Injection rules: extraction of the system prompt, secrets and other users' data.

Requests to reveal, repeat or quote the instructions; for a secret, password or code that lives
"in your instructions"; and exfiltration channels (markdown images with a query string,
forwarding conversations to an address).
"""

from __future__ import annotations

from runwell.guardrails._lexicon import (
    NOT_DESCRIBING,
    PLACE_WORDS,
    PROMPT_ANY,
    PROMPT_STRONG,
    REVEAL,
    REVEAL_INFLECTED,
    REVEAL_WORDS,
    SECRET,
    SECRET_WORDS,
    Rule,
    W,
    gap,
    rule,
)

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    rule(
        "reveal-system-prompt",
        0.85,
        rf"\b(?={REVEAL}){NOT_DESCRIBING}{REVEAL}(?:s|es"
        rf"|ing)?\b{gap(3, 'my|our|a|an|example|sample|good|new|better|this|that')} (?:all (?:of )?)?"
        r"(?:the (?:exact |full |complete |entire |whole )?(?:text|content|contents|wording|words|body|set"
        r"|list) of )?(?:your"
        rf"|the|its)(?: own)?(?: (?!my\b){W}){{0,2}}? {PROMPT_STRONG}\b(?! (?:i|we) (?:wrote|write|drafted"
        r"|made|created|pasted|shared|gave|sent|have|had|am|are)\b)(?! (?:length|limit|size|format|token"
        r"|tokens|field|parameter|variable|template|syntax|feature|setting|option|best practices?|for (?:a"
        r"|an|my|our)|in (?:the|a) (?:api|docs|documentation|playground)|in (?:a |the )?(?:windows|command"
        r"|cmd|terminal|shell|bash|zsh|linux|dos|powershell|console|cli))\b)",
        words=(
            REVEAL_WORDS + " " + REVEAL_INFLECTED,
            "prompt preprompt metaprompt instructions system developer above",
        ),
    ),
    rule(
        "reveal-your-instructions",
        0.6,
        rf"\b{REVEAL}\b(?: (?:me|us|back))? (?:all (?:of )?)?(?:the (?:text|content|contents|wording|words"
        rf"|full text|body) of )?your(?: {W}){{0,2}}? {PROMPT_ANY}\b(?! (?:for|on|about|to|regarding|when|if"
        r"|in (?!full\b)))(?! [a-z]+ (?:for|on|about)\b)",
        words=(
            REVEAL_WORDS,
            "your",
            "instructions rules guidelines directives prompt programming configuration guidance orders "
            "setup config window definitions",
        ),
    ),
    rule(
        "verbatim",
        0.35,
        r"\b(?:word for word|verbatim|character for character|exactly as (?:written|given|they (?:are|were)"
        r" written)|in a code block|without (?:any )?(?:omissions|summari[sz]ing|paraphrasing))\b",
        words=("word verbatim character exactly code omissions summarizing summarising paraphrasing",),
    ),
    rule(
        "repeat-text-above",
        0.55,
        r"\b(?:repeat|print|output|show|tell me|reveal|quote|copy|recite) (?:back )?(?:all |everything |the"
        r" (?:text|words|message|content|lines?|sentences?) )?(?:written |said |stated )?(?:above|before"
        r" this (?:message|line|point)|prior to this)\b|\b(?:(?:starting|beginning) (?:with|from)|(?:comes?"
        r"|came|appears?|is) (?:before|after)) (?:the (?:phrase|words?) )?[\"']?you are\b",
        words=("above before prior starting beginning after",),
    ),
    rule(
        "what-were-you-told",
        0.65,
        r"\b(?:what|which) (?:instructions|rules|guidelines|prompt|directives|secrets?|codes?) (?:were|was"
        r"|have|had|did) you (?:been )?(?:given|told|provided|programmed|trained|configured|set up)\b",
        words=("you", "given told provided programmed trained configured set"),
    ),
    rule(
        "secret-in-instructions",
        0.75,
        rf"\b{SECRET}\b{gap(4)} (?:in|from|inside|within|hidden in|stored in|contained in|written in"
        r"|mentioned in|given in|set in|embedded in|listed in|of) (?:your|the) (?:own |original |hidden "
        r"|system |initial )?(?:system prompt|instructions|prompt|configuration|config|system message|setup"
        r"|programming|directives)\b",
        words=(SECRET_WORDS, PLACE_WORDS),
    ),
    rule(
        "value-in-your-instructions",
        0.6,
        r"\b(?:code|word|value|string|phrase|number|key|data|info|information|the one|one|text|words|content"
        rf"|everything|anything|sentence|lines?|parts?)\b{gap(4)} (?:in"
        r"|from|inside|within|hidden in|stored in|contained in|written in|mentioned in|given in|of) your "
        r"(?:own )?(?:system prompt|instructions|prompt|configuration|config|system message|setup"
        r"|programming)\b",
        words=("your", PLACE_WORDS),
    ),
    rule(
        "reveal-secret",
        0.45,
        r"\b(?:tell|give|show|print|reveal|output|share|say|read|write|finish|confirm|spell|recite|leak"
        r"|disclose|type|send|display|provide|return|list|quote)(?:s|es|ing)?(?: (?:me|us|them|out|back))?"
        rf"(?: (?:the|your|that|this|its|every|each|all|any))?(?: {W}){{0,2}}? {SECRET}\b(?! "
        r"(?:requirements?|polic(?:y|ies)|reset|managers?|strength|rules|fields?|length|hints?|recovery"
        r"|change|format|protection|generators?|expir\w*|of (?:success|happiness|life)|to (?:success"
        r"|happiness)|behind|sauce|santa|garden|recipe|ingredient))",
        words=(SECRET_WORDS,),
    ),
    rule(
        "told-to-hide",
        0.45,
        r"\b(?:told|instructed|asked|ordered|programmed|supposed|meant) (?:to )?(?:hide|keep (?:it )?secret"
        r"|never (?:reveal|share|disclose|say|tell|print))\b|\b(?:never|not) (?:been )?allowed to (?:share"
        r"|reveal|say|tell|disclose|print)\b",
        words=("hide secret never allowed",),
    ),
    rule(
        "code-you-know",
        0.3,
        r"\b(?:every|any|all the) (?:code|secret|password)s? (?:she|he|it|they|you) knows?\b",
        words=("knows know", "code codes secret secrets password passwords"),
    ),
    rule(
        "secret-object",
        0.35,
        r"\b(?:restricted|forbidden|hidden|protected|confidential|classified) (?:code|word|value|token|key"
        r"|password|secret)s?\b|\bsecret (?:code|word|key|value|token)s?\b",
        words=("restricted forbidden hidden protected confidential classified secret",),
    ),
    rule(
        "already-know-the-secret",
        0.45,
        r"\bi already (?:know|have|saw|heard) (?:the|your) (?:system )?(?:code|secret|password|token|key"
        r"|prompt"
        r"|instructions)\b|\bno harm in (?:telling|showing|sharing|giving) (?:(?:them|it|that|this) )?(?:to"
        r" )?"
        r"(?:me|us)\b",
        words=("already harm",),
    ),
    rule(
        "instructions-published",
        0.45,
        r"\b(?:your|the) (?:instructions|system prompt|prompt|rules|secret|code) (?:were|was|are|is|will be"
        r"|get|got) (?:already )?(?:published|leaked|public|made public|released|posted online)\b",
        words=("published leaked public released posted",),
    ),
    rule(
        "leaking-assistant",
        0.45,
        r"\b(?:a |an )?leak(?:ing|y)? (?:assistant|ai|model|chatbot|bot)\b|\bwhat a leak would look like\b",
        words=("leak leaking leaky",),
    ),
    rule(
        "quote-the-secret",
        0.45,
        r"\b(?:quot|print|writ|spell|includ|copy|typ)(?:e|es|ing) (?:out )?(?:the|your|that) (?:code|secret"
        r"|password|token|key)s? (?:exactly|verbatim|in full|word for word|character by character)\b",
        words=("code codes secret secrets password passwords token tokens key keys",),
    ),
    rule(
        "markdown-exfiltration",
        0.6,
        r"!\[[^\]]{0,100}\]\(https?://[^)\s]{0,200}[?&][a-z_]{1,30}=|\b(?:append|add|include|encode"
        r"|put)\b[^.!?]{0,60}\b(?:conversation|chat history|previous messages|user'?s? (?:data|messages"
        r"|email)|secrets?|the prompt)\b[^.!?]{0,40}\b(?:to|in|into|as) (?:the|a|this) (?:url|link|query"
        r" string|parameter|image)\b",
        words=("http https url link query parameter image",),
        within_sentence=False,
    ),
    rule(
        "forward-data",
        0.5,
        r"\b(?:forward|send|email|upload|post|transmit|leak|exfiltrate|copy)\b[^.!?]{0,40}\b(?:conversation"
        r"|chat history|messages|emails?|inbox|contacts|files|documents|records|credentials|data"
        r"|history)\b[^.!?]{0,40}\bto (?:this|that|the following|an? (?:external|outside|third-party)|my) "
        r"(?:address|url|server|endpoint|email|webhook|site)\b",
        words=(
            "forward send email upload post transmit leak exfiltrate copy",
            "conversation history messages emails email inbox contacts files documents records credentials "
            "data",
            "address url server endpoint email webhook site",
        ),
    ),
    rule(
        "forward-to-address",
        0.5,
        r"\b(?:forward|send|email|cc|bcc)\b[^!?]{0,60}\bto [\w.+-]+@[\w-]+\.",
        words=("forward send email cc bcc",),
        marks=("@",),
        within_sentence=False,
    ),
    rule(
        "dump-other-data",
        0.55,
        r"\b(?:reveal|show|print|output|list|dump|give me|send|share|tell me)\b[^.!?]{0,30}\b"
        r"(?:conversation history|chat history|previous (?:users?|conversations?|sessions?)|other (?:users?"
        r"|customers?)'?s? (?:data|messages|conversations|emails|orders|records|details)|all (?:user"
        r"|customer) (?:data|records|emails|details))\b",
        words=(
            "history previous other all",
            "conversation conversations users user customers customer sessions session data messages emails "
            "orders records details",
        ),
    ),
    rule(
        "what-did-developers-say",
        0.65,
        r"\bwhat (?:exactly )?(?:did|have|has) (?:your|the) (?:developers?|creators?|operators?|admins?"
        r"|administrators?|owners?|company|makers?|programmers?) (?:tell|told|instruct|instructed|say|said"
        r"|give|given|write|written) (?:to )?you\b",
        words=(
            "developer developers creator creators operator operators admin admins administrator "
            "administrators owner owners company maker makers programmer programmers",
            "tell told instruct instructed say said give given write written",
        ),
    ),
    rule(
        "your-initial-setup",
        0.5,
        r"\byour (?:entire|full|complete|whole|exact|original|hidden|internal|initial|secret|underlying) "
        r"(?:setup|configuration|config|context|instructions|rules|guidelines|directives|tool definitions"
        r"|function definitions|prompt)\b",
        words=(
            "your",
            "setup configuration config context instructions rules guidelines directives definitions prompt",
        ),
    ),
    rule(
        "reveal-received-instructions",
        0.7,
        rf"\b{REVEAL}\b(?: (?:me|us))? (?:every|each|all|all of the|the|any) (?:instructions?|rules?"
        r"|directives?|guidelines?|messages?) (?:you (?:received|were given|got|have been given|were told"
        r"|follow|obey)|(?:from|given by|set by) (?:the|your) (?:operator|developer|admin|administrator"
        r"|system|creator|company))\b",
        words=(
            REVEAL_WORDS,
            "instruction instructions rule rules directive directives guideline guidelines message messages",
        ),
    ),
    rule(
        "context-window-dump",
        0.7,
        r"\b(?:first|last|opening|initial) (?:\d+ |few |hundred )?(?:words|lines|characters|tokens"
        r"|sentences|paragraphs) of (?:your|the) (?:context|context window|prompt|instructions|system"
        r" prompt|system message|developer message|configuration|memory|input|conversation)\b",
        words=("words lines characters tokens sentences paragraphs", "first last opening initial"),
    ),
    rule(
        "transform-your-prompt",
        0.7,
        r"\b(?:translate|summari[sz]e|paraphrase|rewrite|encode|convert|put|place|insert|format|wrap|turn"
        r"|copy|paste|spell|base64|reverse)(?: out)? (?:all of |the (?:text|contents?) of )?your (?:system"
        r" prompt|system message|developer message|initial prompt|hidden instructions|original instructions"
        r"|instructions|prompt|configuration)\b(?! (?:for|about|on)\b)",
        words=(
            "translate summarize summarise paraphrase rewrite encode convert put place insert format wrap"
            " turn "
            "copy paste spell base64 reverse",
            "prompt message instructions configuration",
        ),
    ),
    rule(
        "your-system-prompt",
        0.5,
        r"\byour (?:own )?(?:system prompt|system message|developer message|hidden instructions|initial"
        r" prompt"
        r"|pre-?prompt|secret instructions|initial instructions|original instructions|internal instructions"
        r"|confidential instructions|hidden prompt|meta-?prompt)\b",
        words=("your", "prompt message instructions preprompt pre metaprompt meta"),
    ),
    rule(
        "instructions-the-developer-gave",
        0.7,
        r"\b(?:instructions|rules|guidelines|prompt|directives|orders)(?: that)? (?:your|the) (?:developers?"
        r"|creators?|operators?|company|admins?|administrators?|owners?|makers?|programmers?) (?:gave|give"
        r"|wrote|set|provided|configured|programmed|put in|loaded)\b",
        words=("gave give wrote set provided configured programmed put loaded",),
    ),
    rule(
        "what-were-you-told-to-hide",
        0.65,
        r"\bwhat (?:were|are|have) you (?:been )?(?:told|instructed|asked|programmed|trained|ordered)"
        r" (?:to )?(?:never|not to|to not|to keep|to hide|keep)",
        words=("told instructed asked programmed trained ordered",),
    ),
    rule(
        "what-does-your-prompt-say",
        0.7,
        r"\bwhat (?:does|do|did) your (?:system prompt|system message|developer message|instructions|initial"
        r" prompt|hidden instructions|prompt|rules|guidelines|configuration) (?:say|says|contain|state"
        r"|tell you|include)\b",
        words=("your", "say says contain state tell include"),
    ),
    rule(
        "instructions-you-follow",
        0.6,
        rf"\b{REVEAL}\b(?: (?:me|us))? (?:the|all the|all of the|every|any)(?: {W}){{0,3}} (?:instructions"
        r"|guidelines"
        r"|rules|directives|prompt|policies)(?: that)? you (?:use|follow|were given|received|have|got|operate"
        r" under|are (?:using|following|operating under)|obey)\b",
        words=(REVEAL_WORDS, "instructions guidelines rules directives prompt policies"),
    ),
    rule(
        "prompt-completion-bait",
        0.5,
        r"[\"'](?:my|the) (?:system prompt|hidden instructions|secret (?:password|code|key)|instructions"
        r"|initial prompt) (?:says|is|reads|are|contains|states) ?:? ?[\"']",
        words=("says is reads are contains states", "prompt instructions secret"),
        marks=("'", '"'),
    ),
)
