"""Injection rules: instructions smuggled inside content, encodings or other languages.

Notes addressed to "any AI reading this" in a pasted e-mail, page or CV; requests to decode a
payload and follow it; task hijacks hidden in formatting demands; and the "ignore all previous
instructions" family in French, German, Spanish, Italian, Portuguese and Dutch.
"""

from __future__ import annotations

from runwell.guardrails._lexicon import (
    AI,
    AI_TOPIC,
    AI_WORDS,
    COMPLY,
    ENCODING,
    REPLY_WORDS,
    Rule,
    rule,
)

__all__ = ["RULES"]

RULES: tuple[Rule, ...] = (
    rule(
        "decode-and-follow",
        0.85,
        r"\b(?:decode|decipher|decrypt|translate|convert|read|reverse|unscramble|interpret"
        rf"|deobfuscate)\b[^.!?]{{0,60}}?\b{ENCODING}\b[^.!?]{{0,80}}?\b{COMPLY}\b",
        words=(
            "base64 base b64 rot rot13 caesar cipher ciphertext hex hexadecimal binary morse backwards "
            "reversed reverse encoded encrypted obfuscated leetspeak leet pig atbash url urlencoded unicode",
        ),
    ),
    rule(
        "follow-decoded",
        0.7,
        r"\b(?:follow|obey|execute|carry out|act on) (?:the )?(?:decoded|hidden|encoded|reversed|decrypted"
        r"|secret) (?:text|message|instructions?|command|payload|content)\b",
        words=("decoded hidden encoded reversed decrypted secret",),
    ),
    rule(
        "and-obey-it",
        0.45,
        r"\b(?:and|then) (?:obey|follow|execute) (?:it|them|its instructions?|what it says)\b|\bdo exactly"
        r" what it says\b",
        words=("obey follow execute says",),
    ),
    rule(
        "end-answer-with-line",
        0.45,
        r"\b(?:end|start|begin|finish|close|prefix|suffix|sign off) (?:your|the|each|every) (?:answer|reply"
        r"|response|output|message|summary) with (?:the (?:line|word|phrase|code|string|token|text|marker)"
        r"|exactly)\b",
        words=("with", "end start begin finish close prefix suffix sign"),
    ),
    rule(
        "needed-for-logging",
        0.3,
        r"\b(?:our|the|my) (?:logging|tracking|analytics|audit|monitoring|parser|pipeline|system) (?:needs"
        r"|requires) (?:it|this|that)\b",
        words=("needs requires",),
    ),
    rule(
        "complete-exactly",
        0.35,
        r"\bcomplete (?:the|this) (?:sentence|phrase|text|line|string)\b[^.!?]{0,40}\b(?:exactly|verbatim"
        r"|with no commentary|without commentary|as written|without changing (?:it|anything|a word))\b",
        words=("complete",),
    ),
    rule(
        "exact-format-code",
        0.3,
        r"\b(?:reply|respond|answer) in exactly this format\b",
        words=("format",),
    ),
    rule(
        "split-payload",
        0.3,
        r"\b(?:output|print|return|say|write|reply with|answer with|respond with) (?:the value of |the"
        r" result of )?[a-z] ?\+ ?[a-z]\b",
        words=("output print return say write reply answer respond",),
        marks=("+",),
    ),
    rule(
        "joined-fragments",
        0.3,
        r"\b(?:fragments?|pieces?|parts?|halves) (?:joined|concatenated|combined|together|merged)\b",
        words=(
            "fragments fragment pieces piece parts part halves",
            "joined concatenated combined together merged",
        ),
    ),
    rule(
        "note-to-ai",
        0.7,
        r"\b(?:note|message|instructions?|notice|attention|memo|reminder|warning|directive|command|request"
        rf"|order|p\.?s\.?) (?:to|for) (?:any |all |the |every |an? )?(?:[a-z-]+ )?{AI}\b{AI_TOPIC}"
        # An addressed note ends in a colon before the instruction: "Note to the AI summarizer: ...".
        r"[^.!?:\n]{0,40}:",
        words=(
            AI_WORDS,
            "note message instruction instructions notice attention memo reminder warning directive command "
            "request order p ps",
        ),
        marks=(":",),
    ),
    rule(
        "attention-ai",
        0.7,
        rf"\battention,? (?:all |any )?{AI} ?[:,!]",
        words=("attention", AI_WORDS),
    ),
    rule(
        "to-any-ai",
        0.55,
        rf"\b(?:to|hey|dear|calling) (?:any|all|every) {AI}\b{AI_TOPIC}",
        words=("any all every", AI_WORDS),
    ),
    rule(
        "ai-reading-this",
        0.55,
        rf"\b{AI} (?:reading|processing|scraping|summari[sz]ing|parsing|crawling|indexing|analy[sz]ing"
        r"|viewing|ingesting|reviewing|screening|evaluating|handling) (?:this|these|the following)\b",
        words=(
            AI_WORDS,
            "reading processing scraping summarizing summarising parsing crawling indexing analyzing "
            "analysing viewing ingesting reviewing screening evaluating handling",
        ),
    ),
    rule(
        "ai-reading-this-must",
        0.75,
        rf"\b{AI} (?:reading|processing|scraping|summari[sz]ing|parsing|crawling|indexing|analy[sz]ing"
        r"|viewing|ingesting|reviewing|screening|evaluating|handling) (?:this|these|the"
        r" following)\b[^.!?]{0,40}\b(?:must|should|shall|are (?:required|instructed) to|need to|have to)\b",
        words=(
            AI_WORDS,
            "must should shall required instructed need have",
            "reading processing scraping summarizing summarising parsing crawling indexing analyzing "
            "analysing viewing ingesting reviewing screening evaluating handling",
        ),
    ),
    rule(
        "if-you-are-an-ai",
        0.4,
        r"\bif you(?: are|'re) an? (?:ai|llm|(?:large )?language model|chat ?bot|bot|automated \w+"
        r"|assistant|gpt|ai assistant|virtual assistant)\b",
        words=("if", AI_WORDS),
    ),
    rule(
        "when-you-read-this",
        0.8,
        r"\b(?:ai|assistant|chatbot|bot|model|llm|gpt)s?,? (?:when|if|after|before|once|as soon as"
        r"|whenever) you (?:read|see|process|parse|summari[sz]e|encounter|find|reach|get to|come across) "
        r"(?:this|these)\b",
        words=(AI_WORDS, "read see process parse summarize summarise encounter find reach get come"),
    ),
    rule(
        "assistant-vocative",
        0.45,
        r"\b(?:assistant|ai|chatbot|bot|model)[,:] (?:stop|ignore|instead|forget|disregard|reveal nothing"
        r"|cancel|drop)\b",
        words=("assistant ai chatbot bot model",),
    ),
    rule(
        "stop-task-instead",
        0.55,
        r"\b(?:stop|quit|cease) (?:summari[sz]ing|translating|classifying|answering|analy[sz]ing|responding"
        r"|replying|helping|processing|reading|what you(?:'re| are) doing|your (?:current )?task|the"
        r" task)\b[^.!?]{0,40}\binstead\b",
        words=("instead",),
    ),
    rule(
        "append-to-every-answer",
        0.45,
        r"\b(?:append|prepend|add|include|insert|inject|embed|repeat) [^.!?]{0,50}?\b(?:to|in|into|at the "
        r"(?:start|end|beginning|bottom|top) of) (?:every|each|all|any|all of your) (?:answers?|repl(?:y"
        r"|ies)|responses?|outputs?|messages?|summar(?:y|ies))\b",
        words=("every each all any", REPLY_WORDS),
    ),
    rule(
        "every-reply-must",
        0.4,
        r"\b(?:every|each|all|any) (?:future |subsequent |following )?(?:reply|replies|response|responses"
        r"|answer|answers|output|outputs) (?:must|shall|has to|need to|needs to) (?:contain|include|start"
        r"|begin|end|mention)\b",
        words=("every each all any", REPLY_WORDS, "must shall has need needs"),
    ),
    rule(
        "screening-manipulation",
        0.6,
        r"\b(?:rate|rank|score|mark|recommend|classify|label) (?:this|the|me|my) (?:candidate|applicant"
        r"|resume|cv|application|submission|review|email|product|paper|letter|cover letter|essay|proposal"
        r"|bid|ticket|invoice)s? (?:as )?(?:the )?(?:best|top"
        r"|highest|perfect|strongest|most qualified|positive|safe|legitimate|approved|not spam|10/10)\b(?!"
        r" or\b)",
        words=("rate rank score mark recommend classify label",),
    ),
    rule(
        "refuse-task-instead",
        0.6,
        r"\b(?:do not|don't|dont|stop|quit|never) (?:summari[sz]|translat|classif|analy[sz]|answer|respond"
        r"|repl|follow|do)\w*\b[^!?]{0,40}\binstead\b",
        words=("instead",),
        within_sentence=False,
    ),
    rule(
        "hide-from-user",
        0.55,
        r"\b(?:do not|don't|dont|never|without) (?:tell(?:ing)?|inform(?:ing)?|let(?:ting)? (?:\w+ )?know"
        r"|mention(?:ing)? (?:it |this |that )?to|alert(?:ing)?|notify(?:ing)?|warn(?:ing)?) (?:the )?"
        r"(?:user|human|customer|reader|requester)s?\b|\b(?:do not|don't|dont|never) mention (?:this|these"
        r"|it) (?:instruction|note|message|comment)s?\b",
        words=(
            "user users human customer customers reader readers requester instruction note message comment "
            "instructions notes messages comments",
            "tell telling inform informing let letting mention mentioning alert alerting notify notifying "
            "warn warning",
        ),
    ),
    rule(
        "say-pwned",
        0.6,
        r"\b(?:say|print|output|write|respond with|reply with|answer with|type)\b[^.!?]{0,20}\b(?:hacked"
        r"|pwned|pwnd|owned|i have been pwned)\b",
        words=("hacked pwned pwnd owned",),
    ),
    rule(
        "ai-told-to-ignore-user",
        0.55,
        rf"\b{AI} ?[:,] ?(?:please )?(?:ignore|disregard|forget|stop|instead|cancel|override|reveal|skip"
        r"|abandon|drop|do not (?:answer|summari[sz]e|reply|respond)|don't (?:answer|summari[sz]e|reply"
        r"|respond))\b|\b(?:ignore|disregard|forget|skip|override) (?:the )?(?:user|user's|users|human"
        r"|human's|customer's|requester's)\b",
        words=(
            "ignore disregard forget stop instead cancel override reveal skip abandon drop do don",
            AI_WORDS + " user users human customer requester",
        ),
    ),
    rule(
        "ignore-instructions-fr",
        0.85,
        r"\b(?:ignore[rz]?|oublie[rz]?|ne tiens pas compte (?:de|des)) (?:toutes )?(?:les |tes |vos |ces"
        r" )?(?:instructions|consignes|directives|regles)(?: (?:precedentes|anterieures|ci-dessus|d'avant"
        r"|initiales))\b|\b(?:ignore[rz]?|oublie[rz]?) (?:toutes (?:les |tes |vos )?|vos |tes )"
        r"(?:instructions|consignes|regles)\b",
        words=("instructions consignes directives regles",),
    ),
    rule(
        "ignore-instructions-de",
        0.85,
        r"\b(?:ignoriere|ignorier|ignorieren sie|vergiss|vergessen sie|missachte|missachten sie) (?:alle "
        r"|samtliche |die |deine |ihre )*(?:bisherigen |vorherigen |vorigen |obigen |fruheren "
        r"|vorangegangenen |ursprunglichen )?(?:anweisungen|instruktionen|regeln|befehle|vorgaben"
        r"|richtlinien|systemanweisungen)\b",
        words=("anweisungen instruktionen regeln befehle vorgaben richtlinien systemanweisungen",),
    ),
    rule(
        "ignore-instructions-es",
        0.85,
        r"\b(?:ignora|ignore|ignoren|olvida|olvide|olviden|descarta|omite|haz caso omiso de) (?:todas )?"
        r"(?:las |tus |sus )?(?:instrucciones|reglas|indicaciones|ordenes|directrices) (?:anteriores"
        r"|previas|de arriba|iniciales|del sistema)\b|\b(?:ignora|olvida|olvide) todas (?:las |tus )?"
        r"(?:instrucciones|reglas)\b",
        words=("instrucciones reglas indicaciones ordenes directrices",),
    ),
    rule(
        "ignore-instructions-it",
        0.85,
        r"\b(?:ignora|ignorate|dimentica|dimenticate|trascura|non seguire) (?:tutte )?(?:le )?(?:tue |sue"
        r" )?(?:istruzioni|regole|indicazioni|direttive) (?:precedenti|date|iniziali|di sistema)\b|\b"
        r"(?:ignora|dimentica) tutte (?:le )?(?:istruzioni|regole)\b",
        words=("istruzioni regole indicazioni direttive",),
    ),
    rule(
        "ignore-instructions-pt",
        0.85,
        r"\b(?:ignore|ignora|ignorem|esqueca|desconsidere) (?:todas )?(?:as )?(?:suas )?(?:instrucoes"
        r"|regras|orientacoes|diretrizes) (?:anteriores|previas|iniciais|do sistema)\b",
        words=("instrucoes regras orientacoes diretrizes",),
    ),
    rule(
        "ignore-instructions-nl",
        0.85,
        r"\b(?:negeer|vergeet) (?:alle )?(?:de |je |uw )?(?:vorige |eerdere |voorgaande |bovenstaande )"
        r"(?:instructies|regels|aanwijzingen)\b|\b(?:negeer|vergeet) alle (?:instructies|regels)\b",
        words=("instructies regels aanwijzingen",),
    ),
    rule(
        "reveal-prompt-other-language",
        0.75,
        r"\b(?:montre|affiche|revele|repete|donne)[rz]?(?:-moi| moi)? (?:ton|votre|le|tes|vos) (?:prompt"
        r"|invite|instructions) (?:systeme|initial|initiales|d'origine)\b|\b(?:zeige|gib|nenne|wiederhole)"
        r" (?:mir )?(?:deinen|den|deine|ihre|die) (?:system ?prompt|systemanweisungen|ursprunglichen"
        r" anweisungen)\b|\b(?:muestra|revela|repite|dime)(?:me)? (?:tu|el|las|tus) (?:prompt"
        r"|instrucciones) (?:del sistema|de sistema|iniciales|originales)\b",
        words=("prompt invite instructions systemprompt systemanweisungen anweisungen instrucciones",),
    ),
    rule(
        "addressed-to-ai",
        0.35,
        r"\b(?:note|message|instructions?|notice|memo|reminder|directive|command|request|order) (?:to|for)"
        rf" (?:any |all |the |every |an? )?(?:[a-z-]+ )?{AI}\b{AI_TOPIC}",
        words=(
            AI_WORDS,
            "note message instruction instructions notice memo reminder directive command request order",
        ),
    ),
    rule(
        "if-you-are-an-ai-must",
        0.7,
        rf"\bif you(?: are|'re) an? (?:[a-z-]+ )?{AI}\b[^.!?]{{0,40}}\b(?:you )?(?:must|should|shall|are"
        r" (?:required|instructed) to|need to|have to|ignore|disregard|forget)\b|\bif (?:an?|any|the)"
        rf" (?:[a-z-]+ )?{AI} (?:reads|sees|processes|is reading|summari[sz]es|parses|finds|crawls|scrapes)"
        r" (?:this|these)\b",
        words=(
            AI_WORDS,
            "must should shall required instructed need have ignore disregard forget reads sees "
            "processes reading summarizes summarises parses finds crawls scrapes",
        ),
    ),
    rule(
        "when-summarizing-say",
        0.35,
        r"\bwhen (?:summari[sz]ing|you summari[sz]e|answering|replying|responding|translating|reviewing"
        r"|reading|processing|citing|you cite)(?: (?:this|it))?,? (?:say|state|claim|write|tell|mention"
        r"|include|add|report|begin|start)\b",
        words=(
            "summarizing summarising summarize summarise answering replying responding translating reviewing "
            "reading processing citing cite",
        ),
    ),
)
