"""The common words whose adjacent pairs PostgreSQL indexes (migration 0010): version 1.

A phrase of two common words is the slow one for GIN: it must test every paper holding both
words (tens of thousands at 200k papers). So a paper's `pairs` vector holds 'a~b' only where a
and b are both in PAIR_WORDS, and a phrase asks GIN for those pairs and for its other words
plainly. Indexing every pair cost ~190 GIN entries a paper (ingest 2.5x slower); these cost
~34 on the bench's papers. The list (bench/pair_words.py derives it; a test checks): the
analysed stems in at least 5% of the 147 real Hugging Face papers' titles and abstracts in
tests/data/seed_days.json, less Snowball's English stop words (PostgreSQL's english.stop).

Migration 0010 writes the same words into the `pair_words` table, which the SQL function
`search_pairs` reads: a test checks that both hold the same set. To change the list, bump
PAIR_WORDS_VERSION and add a migration that rewrites `pair_words` and every row's `pairs`.
"""

PAIR_WORDS_VERSION = 1
_WORDS = """
0 1 10 2 3 5 abil abl accur accuraci achiev across activ adapt addit address adopt
advanc affect ai aim algorithm align allow along also altern amount analysi analyz
appear appli applic approach approxim architectur argu aris art associ assum assumpt
asymptot avail averag base baselin batch becom behavior benchmark benefit best better
beyond bias bound budget build call cannot capabl captur case caus central certain
challeng chang character choic class classic classif classifi close code com combin
common compar complet complex compon comprehens comput condit confirm connect consid
consist constant constraint construct contain context continu contrast contribut control
convent converg correct correl correspond cost could covari critic crucial current d
data dataset decis decreas deep defin demonstr dens densiti depend deriv descent describ
design desir despit develop differ differenti diffus dimens dimension direct discov
discoveri distribut diverg divers domain downstream drive driven due dynam e effect
effici either emerg empir enabl enhanc entropi equat error establish estim evalu even
evid exact examin exampl exhibit exist expect experi experiment explain explicit explor
extend extens extrem f fact factor famili far faster featur field final find fine finit
first fit fix focus follow form formul forward found four framework free fulli function
fundament furthermor g gain gap gaussian general generat github give given good gradient
guid handl hidden high higher highlight hold howev http hyperparamet hypothesi identifi
ii iii illustr imag imagenet impact implement impli implic import improv includ incorpor
increas independ indic infer infinit influenc inform initi input insight inspir instanc
instead interact interest interpret introduc investig involv issu iter kernel key
knowledg known l label languag larg larger law layer lead learn less level leverag like
likelihood limit linear literatur llm log long loss low lower machin magnitud make mani
match mathemat matrix maxim may mean measur mechan memori method metric minim mixtur
model modern moreov motiv much multi multipl n natur near need negat network neural new
nois non nonlinear normal novel number numer o object observ obtain occur offer often
one onlin open oper optim order origin outperform output overal overfit paper paradigm
paramet parameter particular pattern per perfect perform perspect phase phenomenon
physic point poor posit possibl potenti power practic pre precis predict present
pretrain previous principl prior probabl problem procedur process properti propos prove
provid qualiti question random rang rank rate rather ratio real reason recent reduc
reduct reflect regim regress regular reinforc relat relationship reli remain remark
repres represent requir research resourc respect respons result reveal risk robust role
sampl scalabl scalar scale scenario score search second select self separ set sever
shape shift show shown signal signific similar simpl simul singl size slow small smaller
smooth solut solv sourc space special specif speed stabil standard start state statist
step still stochast strategi strong structur studi substanti success suffici suggest
supervis support surpris system systemat target task techniqu term test theoret theori
therefor three thu time token top toward trade tradit train transform transit tune two
typic understand uniform unlik updat us use usual util valid valu vari variabl varianc
variat various vector verifi via vision way weight well wide width within without work
world would x yet yield zero
"""
PAIR_WORDS = frozenset(_WORDS.split())
