"""Customer-service assistant: grounded product QA over a shop's own Q&A history.

``retrieval.QAIndex`` answers a question from stored Q&A pairs with sources and a
calibrated confidence; ``lexical``, ``dense``, ``dual_encoder`` and ``hybrid`` are the
scorers behind it; ``protocol`` measures them (1-of-100 accuracy, MRR, recall@k);
``response_selection`` ranks Chinese shop replies (ECD); ``yesno`` predicts the
answer of a yes/no question; ``selective`` measures answering versus handing over.
"""
