"""Learning on top of running: the tour's slides, quizzes and seeded exercises."""
