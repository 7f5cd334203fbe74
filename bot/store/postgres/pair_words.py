"""The common words whose adjacent pairs PostgreSQL indexes (migration 0010): version 1.

A phrase of two common words is the slow one for GIN: it must test every paper holding both
words (tens of thousands at 200k papers). So a paper's `pairs` vector holds 'a~b' only where a
and b are both in PAIR_WORDS, and a phrase asks GIN for those pairs and for its other words
plainly. Indexing every pair cost ~190 GIN entries a paper (ingest 2.5x slower); these cost
~31. The list: the analysed stems in at least 5% (10,000) of the 200,000 bench papers' text
(A, B, D positions; `ts_stat` on the bench database), bench.search's STOPWORDS left out.

Migration 0010 writes the same words into the `pair_words` table, which the SQL function
`search_pairs` reads: a test checks that both hold the same set. To change the list, bump
PAIR_WORDS_VERSION and add a migration that rewrites `pair_words` and every row's `pairs`.
"""

PAIR_WORDS_VERSION = 1
_WORDS = """
0 1 2 3 abil accur accuraci achiev across activ adapt addit address advanc affect
algorithm align allow altern analysi analyz appear appli applic approach approxim
architectur art associ assumpt asymptot avail averag base batch bayesian becaus becom
behavior benchmark best better beyond bias bound budget call capabl captur case caus
certain challeng chang character choic class classic classif close code combin common
compar complex comput condit connect consid consist constant construct context continu
contrast contribut control converg correct cost covari critic current d data dataset
decreas deep demonstr densiti depend deriv descent design despit develop differ
differenti diffus dimens dimension direct distribut diverg divers domain downstream
draro driven due dynam e effect effici emerg empir enabl enhanc entropi equat error
establish estim evalu even evid exact exampl exhibit exist expect experi experiment
explain explicit explor extend f factor featur field final find fine finit first fit fix
focus follow form formul forward found framework free function g gain gaussian gd
general generat give given gradient guid hidden high higher hyperparamet hypothesi i
identifi ii imag imagenet impact implement import improv includ incorpor increas
independ indic infer infinit inform initi input insight instanc interact interest
interpret introduc investig iter karo kernel key known l label languag larg larger law
layer lead learn less level leverag lexro like likelihood limit linear literatur llm log
long loss low machin magnitud make mani match mathemat matrix mean measur mechan memori
method metric minim miro mixtur model modern moreov multi multipl n natur near need
network neural neuro new nois non nonlinear normal novel number numer o object observ
obtain offer often one open oper optim order origin outperform output overal paper
paramet parameter parametr particl particular perform phenomenon phoro physic point
posit possibl potenti power practic pre predict present pretrain previous principl prior
probabl problem process properti propos prove provid qualiti question quiro random rang
rank rate rather ratio real reason recent reduc regim regress regular relat relationship
remain repres represent requir research resourc respons result reveal reward risk robust
roro s sampl scale scenario score search second select self separ set sever shape shift
show signal signific similar simpl simul singl singular size small smaller smooth solut
solv sourc space specif stabil standard state statist step still stochast strategi
strong structur studi substanti success suffici suggest supervis support synro system t
target task techniqu telro term test theoret theori therefor three time token top toward
tradit train transform tune two typic understand uniform universal updat use util valid
valu vari variabl varianc variat various vector verifi vorro way weight well wide width
work x yield zanro zero
"""
PAIR_WORDS = frozenset(_WORDS.split())
